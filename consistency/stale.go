package consistency

import (
	"fmt"
	"strings"
	"time"
)

// StaleBounds limits how far behind the cluster a Stale read may be. The
// zero value puts no limit on either dimension.
type StaleBounds struct {
	// MaxStaleness is the longest time since the node last heard from the
	// leader (on the leader: since a quorum last confirmed its leadership)
	// that a Stale read accepts. 0 means unbounded. When it is set, a
	// follower that knows no leader, or has never heard from one, and a
	// leader with no quorum contact in its term, are refused.
	MaxStaleness time.Duration
	// MaxLag is the largest number of entries the node may know to be
	// committed without having applied them yet (commit index − applied
	// index). 0 means unbounded.
	MaxLag uint64
}

// Validate returns an error wrapping ErrInvalidOptions, naming the field,
// when a bound is negative. It never blocks.
func (b StaleBounds) Validate() error {
	if b.MaxStaleness < 0 {
		return fmt.Errorf("%w: StaleBounds.MaxStaleness is %v, must be >= 0 (0 = unbounded)", ErrInvalidOptions, b.MaxStaleness)
	}
	return nil
}

// TooStaleError is the error a Stale read returns when it would break its
// StaleBounds (raftsync.Node.Read, ReadIndex). It carries the measured values next to the bounds; errors.Is(err,
// ErrTooStale) holds for it.
type TooStaleError struct {
	// Staleness is the time since the last leader contact (on the leader:
	// since its last quorum contact). It is 0 when NoLeaderContact is true,
	// since there is nothing to measure from.
	Staleness time.Duration
	// MaxStaleness is the bound that applied (0 = unbounded).
	MaxStaleness time.Duration
	// NoLeaderContact is true when the node knew no leader or had never
	// heard from one, or, on the leader, had no quorum contact in its
	// term, which counts as infinitely stale.
	NoLeaderContact bool
	// Leader is true when the node judged was the leader: the staleness is
	// then measured from its last quorum contact.
	Leader bool
	// Lag is commit index − applied index.
	Lag uint64
	// MaxLag is the bound that applied (0 = unbounded).
	MaxLag uint64
}

// StalenessExceeded reports whether the time bound was broken.
func (e *TooStaleError) StalenessExceeded() bool {
	return e.MaxStaleness > 0 && (e.NoLeaderContact || e.Staleness > e.MaxStaleness)
}

// LagExceeded reports whether the index-lag bound was broken.
func (e *TooStaleError) LagExceeded() bool { return e.MaxLag > 0 && e.Lag > e.MaxLag }

// Error says which bound was broken and by how much.
func (e *TooStaleError) Error() string {
	var parts []string
	if e.StalenessExceeded() {
		contact := "leader contact"
		if e.Leader {
			contact = "quorum contact of this leader"
		}
		if e.NoLeaderContact {
			parts = append(parts, fmt.Sprintf("no %s (bound %v)", contact, e.MaxStaleness))
		} else {
			parts = append(parts, fmt.Sprintf("last %s %v ago, %v over the bound of %v",
				contact, e.Staleness, e.Staleness-e.MaxStaleness, e.MaxStaleness))
		}
	}
	if e.LagExceeded() {
		parts = append(parts, fmt.Sprintf("%d entries behind the commit index, %d over the bound of %d",
			e.Lag, e.Lag-e.MaxLag, e.MaxLag))
	}
	if len(parts) == 0 {
		return ErrTooStale.Error()
	}
	return ErrTooStale.Error() + ": " + strings.Join(parts, "; ")
}

// Unwrap returns ErrTooStale.
func (e *TooStaleError) Unwrap() error { return ErrTooStale }

// Is reports whether target is ErrTooStale.
func (e *TooStaleError) Is(target error) bool { return target == ErrTooStale }
