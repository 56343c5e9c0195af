package raftsync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftkit/raftkit/internal/readystate"
	"github.com/raftkit/raftkit/readiness"
)

// WaitReady blocks until the node is Ready: it has recovered its local
// state, knows a leader, and has applied everything the cluster had
// committed when this node (re)established contact with that leader. Serve
// only after it returns nil. It returns at once when the node is already
// Ready.
//
// With Config.Readiness.RecoveredGrace set, WaitReady also returns nil once
// the node has been Recovered that long without becoming Ready (a data plane
// that must come up without a quorum, serving state no older than before
// its restart); Readiness().State then says it is not Ready, and the
// node logs that it returned early.
//
// Errors: ErrClosed when the node closes first; ErrRemoved when the node
// sees a cluster configuration without itself first (it was removed);
// ErrNotReady wrapping ctx's error when ctx ends first.
func (n *Node) WaitReady(ctx context.Context) error {
	if n.life.closed.Load() {
		return ErrClosed
	}
	res, err := n.monitor.tracker.WaitReady(ctx)
	switch {
	case errors.Is(err, readystate.ErrClosed):
		return ErrClosed
	case errors.Is(err, readystate.ErrRemoved):
		return fmt.Errorf("%w: %s is not in the latest cluster configuration", ErrRemoved, n.cfg.ID)
	case err != nil:
		st := n.monitor.tracker.Status()
		return fmt.Errorf("%w: %s (%s): %w", ErrNotReady, st.State, st.Reason, err)
	}
	if res.RecoveredOnly {
		n.logger.Warn("WaitReady returned after the recovered-state grace without reaching Ready",
			"state", res.Status.State, "reason", res.Status.Reason)
	}
	return nil
}

// membership remembers whether the node has been a member of the cluster
// configuration in this run and whether it has since been removed.
type membership struct {
	wasMember atomic.Bool
	// joinedAt is the index of the configuration entry that added this
	// node, from the join's answer (0 when unknown): once the node's log
	// reaches it, its latest configuration is that one or a later one.
	joinedAt atomic.Uint64
	// absentSince is when a check first found this member absent from the
	// latest configuration (unix nanoseconds), 0 while it is present.
	absentSince atomic.Int64
	removed     atomic.Bool

	// mu orders a leader's removal notice against checkMembership's
	// decision, so a member check that read an older configuration never
	// clears a notice's removed.
	mu sync.Mutex
	// noticeIndex is the index of the configuration entry that removed
	// this node according to a leader's notice, 0 when none holds: until
	// the node's log reaches it, the node is removed whatever its (older)
	// latest configuration says.
	noticeIndex uint64
	// checks counts checkMembership's decisions, for tests that need to
	// know some were made.
	checks atomic.Uint64
}

// noticeHolds records a leader's notice that the configuration entry at
// index removed this node, whose log ends at last. It reports whether the
// notice holds: not when the log already reaches index, where the node's
// own configuration decides.
func (m *membership) noticeHolds(index, last uint64) bool {
	if last >= index {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.noticeIndex = max(m.noticeIndex, index)
	m.wasMember.Store(true)
	m.removed.Store(true)
	return true
}

// checkMembership reads raft's latest configuration (appended, not
// necessarily committed: a removed follower may never learn of the
// commit) and records whether this node has been removed: it was a member
// before, as a voter or a non-voter, and is not in this configuration. It
// was a member if it saw itself in an earlier configuration, or if its log
// reaches the entry that added it when it joined: a joining node catching
// up through older configurations is not taken for removed. The absence
// must last a tick interval: while raft replaces a conflicting log tail it
// briefly falls back to the committed configuration, which may predate
// this node. A node added back is a member again. A leader's removal
// notice (handleRemovedNotice) holds the node removed, whatever its latest
// configuration says, until its log reaches the notice's index.
func (n *Node) checkMembership() {
	// The last index is read before the configuration: raft processes a
	// configuration entry before it publishes the last index past it.
	last := n.raft.LastIndex()
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return
	}
	servers := f.Configuration().Servers
	if key := configurationKey(servers); key != n.peers.membersKey {
		n.peers.membersKey = key
		n.storeMembers(servers)
	}
	n.peers.membership.mu.Lock()
	defer n.peers.membership.mu.Unlock()
	defer n.peers.membership.checks.Add(1)
	if idx := n.peers.membership.noticeIndex; idx > 0 {
		if last < idx {
			// A leader said the entry at idx removed this node; the
			// configuration read here is older than that.
			return
		}
		n.peers.membership.noticeIndex = 0
	}
	for _, s := range servers {
		if string(s.ID) == n.cfg.ID {
			n.peers.membership.wasMember.Store(true)
			n.peers.membership.absentSince.Store(0)
			if n.peers.membership.removed.Swap(false) {
				n.logger.Info("this node is in the cluster configuration again")
			}
			return
		}
	}
	joined := n.peers.membership.joinedAt.Load()
	if len(servers) == 0 || !(n.peers.membership.wasMember.Load() || (joined > 0 && last >= joined)) {
		return
	}
	now := n.clock.Now().UnixNano()
	if n.peers.membership.absentSince.CompareAndSwap(0, now) {
		return
	}
	if time.Duration(now-n.peers.membership.absentSince.Load()) >= tickInterval && !n.peers.membership.removed.Swap(true) {
		n.logger.Warn("this node is not in the latest cluster configuration: it was removed")
	}
}

// Readiness returns the node's current readiness: its state, the reason
// when not Ready, and the indexes it is decided from. It never blocks.
func (n *Node) Readiness() readiness.Status { return n.monitor.tracker.Status() }

// WatchReadiness returns a channel of readiness changes and a function that
// ends the subscription. The channel holds the latest status only, so a slow
// reader never blocks the node and always finds the newest state; it is
// closed after the node closes. Each caller gets its own channel.
func (n *Node) WatchReadiness() (<-chan readiness.Status, func()) { return n.monitor.tracker.Watch() }

// ReadyHandler returns an http.Handler for a readiness probe (/readyz):
// 200 when Ready, 503 with the state and reason otherwise; JSON detail with
// ?verbose or Accept: application/json.
func (n *Node) ReadyHandler() http.Handler { return readiness.ReadyHandler(n) }

// LiveHandler returns an http.Handler for a liveness probe (/livez): 200
// until the node is closed.
func (n *Node) LiveHandler() http.Handler { return readiness.LiveHandler(n) }

// SubscribeChanges returns a subscription to coalesced change
// notifications, for applications that rebuild something (a routing table,
// a cache) when the replicated state changes. Nothing is delivered while the
// node recovers and catches up; at the first Ready one Initial change covers
// everything applied so far; after that, changes are merged over a short
// window, each notification carrying the index range it covers. The
// subscriber asks its FSM what changed in that range. Close the
// subscription when done; the node closes it at Close.
func (n *Node) SubscribeChanges() readiness.Subscription { return n.monitor.coalescer.Subscribe() }
