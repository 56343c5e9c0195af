package readiness

import (
	"fmt"
	"time"
)

// Defaults for Policy fields left at zero.
const (
	DefaultLeaderLossBound        = 5 * time.Second
	DefaultMaxLag          uint64 = 10000
)

// Policy tunes when a node reports Degraded and whether WaitReady may
// return before Ready (raftsync.Config.Readiness). The zero value uses the
// defaults and the strict WaitReady.
type Policy struct {
	// LeaderLossBound: a Ready node that has had no leader (or no contact
	// with it, or no sync point from it) for longer than this becomes
	// Degraded. 0 means DefaultLeaderLossBound (5s); negative is invalid.
	LeaderLossBound time.Duration
	// MaxLag: a Ready node whose CommitIndex-Applied exceeds this becomes
	// Degraded. 0 means DefaultMaxLag (10000).
	MaxLag uint64
	// RecoveredGrace: 0 (the default) makes WaitReady wait for Ready. A
	// positive value lets WaitReady also return once the node has been
	// Recovered or later for this long without being Ready, for data planes
	// that must come up without a quorum; the node logs that it returned
	// early, and its Status still says it is not Ready. Negative
	// is invalid.
	RecoveredGrace time.Duration
}

// Validate returns nil when p is usable, or an error wrapping
// ErrInvalidPolicy that names the offending field.
func (p Policy) Validate() error {
	if p.LeaderLossBound < 0 {
		return fmt.Errorf("%w: Policy.LeaderLossBound is %v, must not be negative", ErrInvalidPolicy, p.LeaderLossBound)
	}
	if p.RecoveredGrace < 0 {
		return fmt.Errorf("%w: Policy.RecoveredGrace is %v, must not be negative", ErrInvalidPolicy, p.RecoveredGrace)
	}
	return nil
}
