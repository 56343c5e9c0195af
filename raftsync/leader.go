package raftsync

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/readystate"
)

// epoch is what the node believes about leadership between two changes of
// leader or term. A new epoch replaces the old one whenever raft's leader
// or term changes; the old one's replaced channel is closed so that anyone
// waiting for "the leader to change" wakes up.
type epoch struct {
	leaderID   string
	leaderAddr string
	term       uint64
	isLeader   bool

	replaced chan struct{} // closed when a newer epoch takes over
	// stamp is the latest stamp received from this epoch's leader in a
	// read-index answer, for this follower's vouchers (readvoucher.go).
	stamp atomic.Uint64

	mu        sync.Mutex
	synced    chan struct{} // closed once syncIndex is known
	syncIndex uint64
}

func newEpoch(leaderID, leaderAddr string, term uint64, isLeader bool) *epoch {
	return &epoch{
		leaderID:   leaderID,
		leaderAddr: leaderAddr,
		term:       term,
		isLeader:   isLeader,
		replaced:   make(chan struct{}),
		synced:     make(chan struct{}),
	}
}

// setSync records the sync point for this epoch, once.
func (e *epoch) setSync(idx uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	select {
	case <-e.synced:
	default:
		e.syncIndex = idx
		close(e.synced)
	}
}

// sync returns the sync point and whether it is known.
func (e *epoch) sync() (uint64, bool) {
	select {
	case <-e.synced:
		return e.syncIndex, true
	default:
		return 0, false
	}
}

// runMonitor follows leadership and keeps readiness current. raft's
// LeaderObservation fires only on change and a non-blocking observer drops
// events when its channel is full, so events only say "look again": the
// monitor re-reads the leader and term from raft on each event and on a
// ticker, and never trusts the event's content alone.
func (n *Node) runMonitor() {
	events := make(chan raft.Observation, 16)
	obs := raft.NewObserver(events, false, func(o *raft.Observation) bool {
		if n.monitor.dropObservations.Load() {
			return false // tests: every event lost, as a full channel loses them
		}
		switch o.Data.(type) {
		case raft.LeaderObservation, raft.PeerObservation:
			return true
		}
		return false
	})
	n.raft.RegisterObserver(obs)
	defer n.raft.DeregisterObserver(obs)

	ticker := time.NewTicker(tickInterval)
	defer ticker.Stop()
	var epochCancel context.CancelFunc = func() {}
	defer func() { epochCancel() }()

	check := func() {
		addr, id := n.raft.LeaderWithID()
		term := n.raft.CurrentTerm()
		isLeader := n.raft.State() == raft.Leader && string(id) == n.cfg.ID
		cur := n.lead.epoch.Load()
		if string(id) != cur.leaderID || term != cur.term || isLeader != cur.isLeader {
			epochCancel()
			var ctx context.Context
			ctx, epochCancel = context.WithCancel(n.life.ctx)
			n.changeEpoch(ctx, cur, newEpoch(string(id), string(addr), term, isLeader))
		}
		n.checkMembership()
		n.updateReadiness()
	}
	check()
	for {
		select {
		case o := <-events:
			if _, peer := o.Data.(raft.PeerObservation); peer {
				// A membership change changes what a quorum is. The lease
				// does not depend on this event (a lease is used only while
				// raft's latest configuration is the one its round
				// counted), ending it here only ends it sooner.
				n.lead.lease.Revoke()
			}
			check()
		case <-ticker.C:
			check()
		case <-n.monitor.kick:
			n.updateReadiness()
		case <-n.life.ctx.Done():
			return
		}
	}
}

// changeEpoch installs next and starts establishing the sync point for it: on the
// leader by committing a marker of its own term, on a follower by asking
// the leader for a read index.
func (n *Node) changeEpoch(ctx context.Context, prev, next *epoch) {
	n.lead.lease.Revoke()
	n.lead.epoch.Store(next)
	close(prev.replaced)
	n.logger.Debug("leadership changed", "leader", next.leaderID, "term", next.term, "is_leader", next.isLeader)
	switch {
	case next.isLeader:
		n.life.wg.Add(1)
		go func() {
			defer n.life.wg.Done()
			n.establishLeadership(ctx, next)
		}()
	case next.leaderID != "":
		n.life.wg.Add(1)
		go func() {
			defer n.life.wg.Done()
			n.establishFollowerSync(ctx, next)
		}()
	}
}

// establishLeadership commits and applies a marker entry of the new term.
// Until it is applied the leader serves no Strong or Lease read: an entry
// of its own term being applied proves every entry committed in earlier
// terms is applied too (Raft thesis §6.4).
func (n *Node) establishLeadership(ctx context.Context, ep *epoch) {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		f := n.raft.ApplyLog(raft.Log{Type: raft.LogCommand, Extensions: markerExtension}, 0)
		err := n.life.futures.wait(ctx, f)
		if err == nil {
			ep.setSync(f.Index())
			n.kickMonitor()
			return
		}
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrRaftShutdown) {
			return // the next epoch takes over
		}
		n.logger.Warn("committing leadership marker failed; retrying", "error", err, "attempt", attempt)
		if !sleepCtx(ctx, backoff(attempt)) {
			return
		}
	}
}

// establishFollowerSync obtains the sync point from the leader as a read index.
func (n *Node) establishFollowerSync(ctx context.Context, ep *epoch) {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		callCtx, cancel := context.WithTimeout(ctx, 2*n.lead.heartbeatTimeout)
		idx, err := n.readIndexFrom(callCtx, ep, consistency.Strong)
		cancel()
		if err == nil {
			ep.setSync(idx)
			n.kickMonitor()
			return
		}
		n.logger.Debug("obtaining read index from leader failed; retrying", "leader", ep.leaderID, "error", err, "attempt", attempt)
		if !sleepCtx(ctx, backoff(attempt)) {
			return
		}
	}
}

// updateReadiness feeds the tracker a fresh observation.
func (n *Node) updateReadiness() {
	ep := n.lead.epoch.Load()
	s, known := ep.sync()
	obs := readystate.Observation{
		Recovered:   n.monitor.recovered.Load(),
		Applied:     n.fsm.applied.Index(),
		Persisted:   n.persist.index(),
		LeaderID:    ep.leaderID,
		IsLeader:    ep.isLeader,
		LastContact: n.raft.LastContact(),
		SyncIndex:   s,
		SyncKnown:   known,
		CommitIndex: n.raft.CommitIndex(),
		Progress:    n.progress(),
		Removed:     n.peers.membership.removed.Load(),
	}
	n.monitor.tracker.Update(obs)
}

func backoff(attempt int) time.Duration {
	d := 10 * time.Millisecond << min(attempt, 6)
	return min(d, 500*time.Millisecond)
}

// sleepCtx waits d or until ctx ends; it reports whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// progress describes a snapshot transfer or restore under way, or "".
func (n *Node) progress() string {
	if p := n.fsm.restoreProgress(); p != "" {
		return p
	}
	return n.store.snapshots.progress()
}
