package consistency

import (
	"errors"
	"testing"
	"time"
)

func TestStaleBoundsWith(t *testing.T) {
	base := StaleBounds{MaxStaleness: time.Second, MaxLag: 10}
	tests := []struct {
		name string
		opts []ReadOption
		want StaleBounds
	}{
		{"no options keep the node's", nil, base},
		{"zero option changes nothing", []ReadOption{{}}, base},
		{"tighter staleness", []ReadOption{WithMaxStaleness(10 * time.Millisecond)}, StaleBounds{MaxStaleness: 10 * time.Millisecond, MaxLag: 10}},
		{"looser staleness", []ReadOption{WithMaxStaleness(time.Hour)}, StaleBounds{MaxStaleness: time.Hour, MaxLag: 10}},
		{"zero lifts the bound", []ReadOption{WithMaxStaleness(0)}, StaleBounds{MaxLag: 10}},
		{"lag", []ReadOption{WithMaxLag(3)}, StaleBounds{MaxStaleness: time.Second, MaxLag: 3}},
		{"later wins", []ReadOption{WithMaxLag(3), WithMaxLag(5)}, StaleBounds{MaxStaleness: time.Second, MaxLag: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := base.With(tt.opts...); got != tt.want {
				t.Fatalf("With = %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := base.With(WithMaxStaleness(time.Millisecond)); base.MaxStaleness != time.Second || got == base {
		t.Fatal("With changed its receiver or ignored the option")
	}
	err := base.With(WithMaxStaleness(-time.Second)).Validate()
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("negative per-read staleness: Validate = %v, want ErrInvalidOptions", err)
	}
}

// Every Stale read passes its bounds through With; with no options it must
// not allocate (a copy that escaped cost each read an allocation).
func TestWithoutOptionsDoesNotAllocate(t *testing.T) {
	b := StaleBounds{MaxLag: 7}
	if n := testing.AllocsPerRun(100, func() { b = b.With() }); n != 0 {
		t.Fatalf("With() allocates %v times per call", n)
	}
}
