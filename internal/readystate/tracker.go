package readystate

import (
	"sync"
	"time"

	"github.com/raftkit/raftkit/internal/clock"
	"github.com/raftkit/raftkit/readiness"
)

// Observation is what the node knows at one moment. raftsync builds one
// from raft and the FSM wrapper and passes it to Tracker.Update on every
// relevant event and on a ticker; the Tracker decides the State from it and
// from the time.
type Observation struct {
	// Recovering is set while local recovery (the replay of the local
	// snapshot and log up to the persisted index) is under way.
	Recovering bool
	// Recovered is set once local recovery is done: applied ≥ persisted index.
	Recovered bool
	// Applied is the highest index the application FSM has finished
	// applying; Persisted is the last durably recorded applied index.
	Applied, Persisted uint64
	// LeaderID is the current leader's ID, "" when no leader is known.
	LeaderID string
	// IsLeader is set when this node is the leader.
	IsLeader bool
	// LastContact is, on a follower, the last time it heard from the
	// leader; the zero time means never or unknown. Ignored when IsLeader.
	LastContact time.Time
	// SyncIndex is the cluster sync point for the current leader, valid
	// only when SyncKnown. raftsync clears SyncKnown when the leader changes
	// and sets it again once it has a fresh one from the new leader.
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

// Tracker turns Observations into a Status and tells waiters and watchers
// when it changes. It owns no goroutines: the node calls Update. Timers are
// created only by WaitReady with a RecoveredGrace, and only for its
// duration. A Tracker is safe for concurrent use.
type Tracker struct {
	policy readiness.Policy
	clk    clock.Clock

	mu            sync.Mutex
	status        readiness.Status
	closed        bool
	everReady     bool
	lostSince     time.Time // first time a Ready node was seen without a leader; zero while it has one
	unsyncedSince time.Time // first time a Ready node was seen without a reached sync point; zero otherwise
	syncReached   uint64    // last S the node reached while Ready
	watchers      map[*watcher]struct{}
	callbacks     []func(old, new readiness.Status)
	waiters       map[*waiter]struct{}

	// notifyMu is taken before mu is released in Update and held while
	// callbacks and waiter conditions run, so that they see changes in the
	// order Update made them, without holding mu.
	notifyMu sync.Mutex
}

// NewTracker returns a Tracker in state Starting. A nil clk means the real
// clock. Zero fields of p take their defaults; so do invalid ones, so check
// p.Validate first to reject them.
func NewTracker(p readiness.Policy, clk clock.Clock) *Tracker {
	clk = clock.OrReal(clk)
	return &Tracker{
		policy:   policyDefaults(p),
		clk:      clk,
		status:   readiness.Status{State: readiness.Starting, Reason: "waiting for local recovery to begin", Since: clk.Now()},
		watchers: make(map[*watcher]struct{}),
		waiters:  make(map[*waiter]struct{}),
	}
}

// Policy returns the policy in force, with defaults filled in.
func (t *Tracker) Policy() readiness.Policy { return t.policy }

// Status returns the current Status. It never blocks on anything but a
// short internal lock.
func (t *Tracker) Status() readiness.Status {
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
func (t *Tracker) Update(o Observation) readiness.Status {
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
	if next.State == readiness.Closed {
		for w := range t.watchers {
			w.closeLocked()
		}
		clear(t.watchers)
	}
	var callbacks []func(old, new readiness.Status)
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
