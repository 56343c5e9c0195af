package snapshot

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// bombStream is a Flate stream whose payload is n zero bytes: a few KiB
// that expand to n.
func bombStream(t testing.TB, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Index: 1, Term: 1, Compression: Flate})
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(zeros))
		if _, err := w.Write(zeros[:k]); err != nil {
			t.Fatal(err)
		}
		n -= k
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestVerifyLimitedRefusesADecompressionBomb: a stream of a few KiB that
// expands to 64 MiB is refused once it passes the limit, with ErrTooLarge,
// and leaves nothing in the spool directory; a payload of exactly the
// limit passes.
func TestVerifyLimitedRefusesADecompressionBomb(t *testing.T) {
	const expanded = 64 << 20
	bomb := bombStream(t, expanded)
	if len(bomb) > expanded/500 {
		t.Fatalf("test setup: the bomb is %d bytes, not a bomb", len(bomb))
	}
	dir := t.TempDir()
	h, rc, err := VerifyLimited(bytes.NewReader(bomb), dir, 1<<20)
	if !errors.Is(err, ErrTooLarge) || rc != nil || h != (Header{}) {
		t.Fatalf("VerifyLimited(bomb) = %v, %v, %v; want ErrTooLarge and nothing", h, rc, err)
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Fatalf("VerifyLimited left %v in the spool directory", names)
	}

	exact := bombStream(t, 1<<20)
	for _, tc := range []struct {
		limit int64
		want  error
	}{{1 << 20, nil}, {1<<20 - 1, ErrTooLarge}, {-1, nil}} {
		_, rc, err := VerifyLimited(bytes.NewReader(exact), dir, tc.limit)
		if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Fatalf("limit %d: VerifyLimited = %v, want %v", tc.limit, err, tc.want)
		}
		if err == nil {
			n, _ := io.Copy(io.Discard, rc)
			rc.Close()
			if n != 1<<20 {
				t.Fatalf("limit %d: payload of %d bytes, want %d", tc.limit, n, 1<<20)
			}
		}
	}
	// The limit does not hide damage: a corrupt stream under the limit is
	// still refused as corrupt.
	if _, _, err := VerifyLimited(bytes.NewReader(flip(exact, len(exact)-3)), dir, 1<<30); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt stream under the limit = %v, want ErrCorrupt", err)
	}
}
