package raftsync

import (
	"math"
	"testing"
)

// TestRestoreLimit pins the default bound on a restore's decompressed
// payload: 32 times the backup's snapshot, at least 64 MiB, and the
// configured value when there is one.
func TestRestoreLimit(t *testing.T) {
	cases := []struct {
		configured, size, want int64
	}{
		{0, 0, 64 << 20},
		{0, 1 << 20, 64 << 20},
		{0, 2 << 20, 64 << 20},
		{0, 3 << 20, 96 << 20},
		{0, math.MaxInt64 / 16, math.MaxInt64},
		{5, 1 << 30, 5},
	}
	for _, tc := range cases {
		if got := restoreLimit(tc.configured, tc.size); got != tc.want {
			t.Errorf("restoreLimit(%d, %d) = %d, want %d", tc.configured, tc.size, got, tc.want)
		}
	}
}
