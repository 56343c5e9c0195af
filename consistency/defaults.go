package consistency

import (
	"fmt"
	"math"
	"time"
)

// Defaults applied to a zero LeaseOptions field.
const (
	// DefaultDriftRatio lets any two clocks run up to 5% apart in rate.
	DefaultDriftRatio = 0.05
	// DefaultMargin absorbs scheduling delay between reading the clock and
	// acting on the answer.
	DefaultMargin = 10 * time.Millisecond
	// maxDriftRatio is the exclusive upper bound of DriftRatio.
	maxDriftRatio = 0.5
)

// LeaseOptions tunes how the leader turns followers' promises into a
// lease. Zero DriftRatio and Margin mean their defaults, so the zero value
// is the safe preset; MaxDuration 0 means no cap.
type LeaseOptions struct {
	// DriftRatio bounds how much faster or slower than each other any two
	// clocks of the cluster may run: 0.05 means one may measure 1s while
	// another measures 0.95s. It is a bound on rate, not on offset. Must lie
	// in [0, 0.5); 0 means DefaultDriftRatio.
	DriftRatio float64
	// Margin is subtracted from every promise to absorb the delay between
	// reading a clock and acting on it. Must be >= 0; 0 means DefaultMargin.
	Margin time.Duration
	// MaxDuration caps a lease, counted from when its round was sent. Set it
	// to raft's HeartbeatTimeout (and revoke the lease on every membership
	// change). It is the whole lease of a single-voter cluster, which has
	// no follower promises to bound it; there 0 means no lease at all.
	// Must be >= 0; 0 means no cap.
	MaxDuration time.Duration
}

// DefaultLeaseOptions returns the preset: DefaultDriftRatio, DefaultMargin,
// no cap.
func DefaultLeaseOptions() LeaseOptions {
	return LeaseOptions{DriftRatio: DefaultDriftRatio, Margin: DefaultMargin}
}

// Validate returns nil when o is usable, else an error wrapping
// ErrInvalidOptions that names the field. It never blocks.
func (o LeaseOptions) Validate() error {
	if math.IsNaN(o.DriftRatio) || o.DriftRatio < 0 || o.DriftRatio >= maxDriftRatio {
		return fmt.Errorf("%w: LeaseOptions.DriftRatio is %v, must be in [0, %v)", ErrInvalidOptions, o.DriftRatio, maxDriftRatio)
	}
	if o.Margin < 0 {
		return fmt.Errorf("%w: LeaseOptions.Margin is %v, must be >= 0", ErrInvalidOptions, o.Margin)
	}
	if o.MaxDuration < 0 {
		return fmt.Errorf("%w: LeaseOptions.MaxDuration is %v, must be >= 0 (0 = no cap)", ErrInvalidOptions, o.MaxDuration)
	}
	return nil
}

// Options gathers the package's settings for a node's configuration.
type Options struct {
	// Stale bounds Stale reads. A read's own WithMaxStaleness or WithMaxLag
	// replaces the matching bound for that read.
	Stale StaleBounds
	// Lease tunes lease evaluation.
	Lease LeaseOptions
}

// DefaultOptions returns unbounded Stale reads and DefaultLeaseOptions.
func DefaultOptions() Options {
	return Options{Lease: DefaultLeaseOptions()}
}

// Validate returns the first invalid field's error, wrapping
// ErrInvalidOptions, or nil. It never blocks.
func (o Options) Validate() error {
	if err := o.Stale.Validate(); err != nil {
		return err
	}
	return o.Lease.Validate()
}
