package readiness

import (
	"fmt"
	"sync"
	"time"

	"github.com/raftkit/raftkit/internal/clock"
)

// Defaults for Policy fields left at zero.
const (
	DefaultLeaderLossBound        = 5 * time.Second
	DefaultMaxLag          uint64 = 10000
)

// Observation is what the node knows at one moment. raftsync builds one
// from raft and the FSM wrapper and passes it to Tracker.Update on every
// relevant event and on a ticker; the Tracker decides the State from it and
// from the time.
type Observation struct {
	// Recovering is set while local recovery (the replay of the local
	// snapshot and log up to P) is under way.
	Recovering bool
	// Recovered is set once local recovery is done: A ≥ P.
	Recovered bool
	// Applied is A, the highest index the application FSM has finished
	// applying; Persisted is P, the last durably recorded A.
	Applied, Persisted uint64
	// LeaderID is the current leader's ID, "" when no leader is known.
	LeaderID string
	// IsLeader is set when this node is the leader.
	IsLeader bool
	// LastContact is, on a follower, the last time it heard from the
	// leader; the zero time means never or unknown. Ignored when IsLeader.
	LastContact time.Time
	// SyncIndex is S, the cluster sync point for the current leader, valid
	// only when SyncKnown. raftsync clears SyncKnown when the leader changes
	// and sets it again once it has a fresh S from the new leader.
	SyncIndex uint64
	SyncKnown bool
	// CommitIndex is the last known cluster commit index, for the lag bound.
	CommitIndex uint64
	// Progress is optional human text shown in the reason, such as
	// "restoring snapshot 12.0/50.0 MB".
	Progress string
	// Removed is set while the node's latest cluster configuration does
	// not contain it although it was a member before (in this run). It
	// wins over everything but Closed.
	Removed bool
	// Closed is set once the node is shut down. It wins over everything and
	// is final for the Tracker.
	Closed bool
}

// Policy tunes the Tracker. The zero value uses the defaults and the strict
// WaitReady.
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
	// that must come up without a quorum; the WaitResult says so. Negative
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

// withDefaults replaces zero (and invalid) fields with the defaults.
func (p Policy) withDefaults() Policy {
	if p.LeaderLossBound <= 0 {
		p.LeaderLossBound = DefaultLeaderLossBound
	}
	if p.MaxLag == 0 {
		p.MaxLag = DefaultMaxLag
	}
	if p.RecoveredGrace < 0 {
		p.RecoveredGrace = 0
	}
	return p
}

// Status is the Tracker's verdict: the State, why, since when, and the
// indexes it was decided from.
type Status struct {
	State State
	// Reason is a short human sentence, always set when State is not Ready
	// ("waiting for a leader", "applied 120 of 4500",
	// "leader unknown for more than 5s"); empty when Ready.
	Reason string
	// Since is when State last changed.
	Since time.Time
	// Applied (A), Persisted (P), CommitIndex and LeaderID/IsLeader are
	// copied from the last Observation.
	Applied, Persisted uint64
	// SyncIndex is the sync point S in effect: the current leader's S once
	// known. While a Ready node waits for, or catches up to, a new leader's S
	// (within LeaderLossBound), it is the last S the node reached, so a Ready
	// status always has Applied ≥ SyncIndex.
	SyncIndex   uint64
	CommitIndex uint64
	LeaderID    string
	IsLeader    bool
	// ReadyAt is the first time the node was Ready in this run; zero if it
	// never was.
	ReadyAt time.Time
	// RecoveredAt is the first time the node was Recovered or later in this
	// run; zero if it never was. The RecoveredGrace is measured from it.
	RecoveredAt time.Time
}

// ReadyInvariantHolds reports whether s satisfies the readiness invariant:
// a Ready status has Applied ≥ SyncIndex. Every Status a Tracker emits
// satisfies it; tests and the fault suite assert it.
func (s Status) ReadyInvariantHolds() bool {
	return s.State != Ready || s.Applied >= s.SyncIndex
}

// Tracker turns Observations into a Status and tells waiters and watchers
// when it changes. It owns no goroutines: the node calls Update. Timers are
// created only by WaitReady with a RecoveredGrace, and only for its
// duration. A Tracker is safe for concurrent use.
type Tracker struct {
	policy Policy
	clk    clock.Clock

	mu            sync.Mutex
	status        Status
	closed        bool
	everReady     bool
	lostSince     time.Time // first time a Ready node was seen without a leader; zero while it has one
	unsyncedSince time.Time // first time a Ready node was seen without a reached sync point; zero otherwise
	syncReached   uint64    // last S the node reached while Ready
	watchers      map[*watcher]struct{}
	callbacks     []func(old, new Status)
	waiters       map[*waiter]struct{}

	// notifyMu is taken before mu is released in Update and held while
	// callbacks and waiter conditions run, so that they see changes in the
	// order Update made them, without holding mu.
	notifyMu sync.Mutex
}

// NewTracker returns a Tracker in state Starting. A nil clk means the real
// clock. Zero fields of p take their defaults; so do invalid ones, so check
// p.Validate first to reject them.
func NewTracker(p Policy, clk clock.Clock) *Tracker {
	clk = clock.OrReal(clk)
	return &Tracker{
		policy:   p.withDefaults(),
		clk:      clk,
		status:   Status{State: Starting, Reason: "waiting for local recovery to begin", Since: clk.Now()},
		watchers: make(map[*watcher]struct{}),
		waiters:  make(map[*waiter]struct{}),
	}
}

// Policy returns the policy in force, with defaults filled in.
func (t *Tracker) Policy() Policy { return t.policy }

// Status returns the current Status. It never blocks on anything but a
// short internal lock.
func (t *Tracker) Status() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status
}

// Update evaluates o at the clock's current time, records the resulting
// Status and returns it. When the State or the Reason changed it sends the
// new Status to every Watch channel and then calls every OnChange callback;
// it wakes Wait calls whose condition now holds. Update never blocks on a
// reader. Once an Observation with Closed set has been seen, every later
// Update returns the Closed status unchanged.
func (t *Tracker) Update(o Observation) Status {
	now := t.clk.Now()
	t.mu.Lock()
	old := t.status
	if t.closed {
		t.mu.Unlock()
		return old
	}
	next := t.evaluateLocked(o, now)
	t.status = next
	changed := next.State != old.State || next.Reason != old.Reason
	if changed {
		for w := range t.watchers {
			w.sendLocked(next)
		}
	}
	if next.State == Closed {
		for w := range t.watchers {
			w.closeLocked()
		}
		clear(t.watchers)
	}
	var callbacks []func(old, new Status)
	if changed {
		callbacks = t.callbacks
	}
	waiters := make([]*waiter, 0, len(t.waiters))
	for w := range t.waiters {
		waiters = append(waiters, w)
	}
	t.notifyMu.Lock()
	t.mu.Unlock()
	defer t.notifyMu.Unlock()

	for _, f := range callbacks {
		f(old, next)
	}
	for _, w := range waiters {
		w.offer(next)
	}
	return next
}
