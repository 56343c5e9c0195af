package appliedrecord

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftkit/raftkit/internal/clock"
	"github.com/raftkit/raftkit/readiness"
)

// persistDefaults replaces zero (and invalid) fields of p with the
// defaults documented on readiness.PersistPolicy.
func persistDefaults(p readiness.PersistPolicy) readiness.PersistPolicy {
	if p.EveryEntries == 0 {
		p.EveryEntries = readiness.DefaultPersistEveryEntries
	}
	if p.Interval <= 0 {
		p.Interval = readiness.DefaultPersistInterval
	}
	return p
}

// Throttle decides when the applied index should next be persisted. It owns
// no goroutine and no timer: the caller asks Due as the index advances (or on
// its own ticker, for the Interval rule) and reports each completed write
// with Persisted. A Throttle is safe for concurrent use.
type Throttle struct {
	policy readiness.PersistPolicy
	clk    clock.Clock

	mu            sync.Mutex
	lastPersisted uint64
	lastAt        time.Time
	// dueAt is lastPersisted + EveryEntries (saturating), for DueByEntries.
	dueAt atomic.Uint64
}

// NewThrottle returns a Throttle for policy p that starts as if
// lastPersisted had just been written. A nil clk means the real clock. Zero
// fields of p take their defaults; so do invalid ones, so check
// p.Validate first to reject them.
func NewThrottle(p readiness.PersistPolicy, clk clock.Clock, lastPersisted uint64) *Throttle {
	clk = clock.OrReal(clk)
	t := &Throttle{policy: persistDefaults(p), clk: clk, lastPersisted: lastPersisted, lastAt: clk.Now()}
	t.dueAt.Store(t.entriesDue(lastPersisted))
	return t
}

func (t *Throttle) entriesDue(lastPersisted uint64) uint64 {
	if lastPersisted > math.MaxUint64-t.policy.EveryEntries {
		return math.MaxUint64
	}
	return lastPersisted + t.policy.EveryEntries
}

// DueByEntries reports whether applied is at least EveryEntries above the
// last persisted index, without taking a lock: the cheap check for every
// applied batch. The Interval is the caller's timer to watch.
func (t *Throttle) DueByEntries(applied uint64) bool { return applied >= t.dueAt.Load() }

// Due reports whether applied should be persisted now: applied is above the
// last persisted index and either at least EveryEntries above it or Interval
// has elapsed since the last persist. It never blocks and changes nothing.
func (t *Throttle) Due(applied uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if applied <= t.lastPersisted {
		return false
	}
	if applied-t.lastPersisted >= t.policy.EveryEntries {
		return true
	}
	return t.clk.Now().Sub(t.lastAt) >= t.policy.Interval
}

// Persisted records that index was durably stored now. It sets the last
// persisted index to index even when that is lower (the record file now
// holds it), and restarts the Interval. It never blocks.
func (t *Throttle) Persisted(index uint64) {
	now := t.clk.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastPersisted = index
	t.lastAt = now
	t.dueAt.Store(t.entriesDue(index))
}

// LastPersisted returns the index last reported to Persisted (or given to
// NewThrottle).
func (t *Throttle) LastPersisted() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastPersisted
}
