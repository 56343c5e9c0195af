package consistency

import "time"

// ReadOption changes the settings of one read, over the node's own
// (raftsync.Config.Consistency). raftsync.Node.Read and ReadIndex take
// them after their other arguments; they apply in order, a later one
// winning. The zero ReadOption changes nothing.
type ReadOption struct {
	stale func(*StaleBounds)
}

// WithMaxStaleness makes d the MaxStaleness of this read when it is Stale,
// in place of the node's: the read fails with a *TooStaleError when the
// node last heard from its leader (on the leader: from a quorum) more than
// d ago. 0 lifts the bound for this read. A negative d makes the read fail
// with an error wrapping ErrInvalidOptions. Strong and Lease reads ignore
// it.
func WithMaxStaleness(d time.Duration) ReadOption {
	return ReadOption{stale: func(b *StaleBounds) { b.MaxStaleness = d }}
}

// WithMaxLag makes n the MaxLag of this read when it is Stale, in place of
// the node's: the read fails with a *TooStaleError when the node has
// applied more than n entries fewer than it knows committed. 0 lifts the
// bound for this read. Strong and Lease reads ignore it.
func WithMaxLag(n uint64) ReadOption {
	return ReadOption{stale: func(b *StaleBounds) { b.MaxLag = n }}
}

// With returns b changed by opts, in order: the bounds one Stale read is
// judged by. It never blocks.
func (b StaleBounds) With(opts ...ReadOption) StaleBounds {
	if len(opts) == 0 {
		return b // the common read: no copy of b escapes to the heap
	}
	return b.with(opts)
}

func (b StaleBounds) with(opts []ReadOption) StaleBounds {
	for _, o := range opts {
		if o.stale != nil {
			o.stale(&b)
		}
	}
	return b
}
