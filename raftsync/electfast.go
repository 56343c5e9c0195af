package raftsync

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/quorum"
	"github.com/raftkit/raftkit/internal/wire"
)

// restartState is what Open learns about a restart before raft starts:
// how long the vote fence must hold and why.
type restartState struct {
	hasState bool
	fence    time.Duration // the restart fence (0: none)
	// promised is the promise recorded before the restart, when it may
	// still be in force; the fence ends early once it is proved void.
	promised promiseRecord
	promises *promiseLog
}

// loadRestart reads the promise record and sets the restart fence. A
// voter restarting with state needs a fence only when it may have made a
// promise still in force: a record naming a leader, or no record at all
// (a Dir written before records existed). A Dir without state starts with
// an empty record, so that its first restart knows it promised nothing
// before.
func (n *Node) loadRestart(hasState bool) (restartState, error) {
	st := restartState{hasState: hasState, promises: &promiseLog{stable: n.store.stable}}
	rec, present, err := st.promises.load()
	if err != nil {
		n.logger.Warn("unreadable promise record; keeping the full restart fence", "error", err)
		present, rec = false, promiseRecord{}
	}
	switch {
	case !hasState:
		if !present {
			if err := st.promises.clear(promiseRecord{}); err != nil {
				return st, err
			}
		}
	case n.cfg.NonVoter:
	case present && rec == (promiseRecord{}):
		// No promise is in force: no fence.
	default:
		st.fence = n.lead.heartbeatTimeout
		st.promised = rec
	}
	return st, nil
}

// recordPromise records, durably, that this node is about to promise
// leaderID in term; it reports whether the promise may be made.
func (n *Node) recordPromise(leaderID, leaderAddr string, term uint64) bool {
	p := n.net.fence.promises
	if p == nil {
		return true
	}
	if err := p.record(promiseRecord{leaderID: leaderID, leaderAddr: leaderAddr, term: term}); err != nil {
		n.logger.Warn("cannot record a promise; not promising", "error", err)
		return false
	}
	return true
}

// firstElectionTimeout is Config.FirstElectionTimeout with its default.
func (n *Node) firstElectionTimeout() time.Duration {
	if d := n.cfg.FirstElectionTimeout; d != 0 {
		return d
	}
	return n.lead.electionTimeout / 10
}

// startEarlyElection runs, after a restart with state, the two things that
// let a restarted cluster elect at once rather than after raft's election
// timer: it ends the restart fence as soon as the recorded promise is
// proved void, and it wakes raft's election at once when this node is the
// best candidate among a quorum of reachable voters that know no leader.
// It stops once the node heard from a leader or voted, and after a few
// election timeouts in any case: raft's own timers then rule.
func (n *Node) startEarlyElection(st restartState) {
	if !st.hasState || n.cfg.NonVoter || n.firstElectionTimeout() < 0 {
		return
	}
	n.life.wg.Add(1)
	go func() {
		defer n.life.wg.Done()
		n.runEarlyElection(st)
	}()
}

func (n *Node) runEarlyElection(st restartState) {
	period := n.firstElectionTimeout()
	stop := time.Now().Add(4 * (n.lead.heartbeatTimeout + n.lead.electionTimeout))
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	lifted := n.net.fence.lifted
	// The first look is at once: in a whole-cluster restart the members
	// that start last usually find the others up already.
	for first := true; time.Now().Before(stop); first = false {
		if !first {
			select {
			case <-n.life.ctx.Done():
				return
			case <-lifted:
				lifted = nil // the fence ended: the record's promise was kept
				if err := st.promises.clear(st.promised); err != nil {
					n.logger.Warn("clearing the promise record", "error", err)
				}
				continue
			case <-ticker.C:
			}
		}
		if n.net.fence.fenced() {
			if st.promised.leaderAddr == "" || !n.promiseVoid(st.promised, period) {
				continue
			}
			n.logger.Debug("promise recorded before the restart is void; ending the restart fence early",
				"leader", st.promised.leaderID, "term", st.promised.term)
			n.net.fence.lift() // and look for an election at once
		}
		if !n.electionWanted() {
			if n.raft.State() == raft.Follower {
				return // a leader is known, or this node voted
			}
			continue // a candidacy under way, or leader
		}
		if n.bestCandidate(period) {
			if err := n.campaignNow(); err != nil {
				n.logger.Debug("early election not started", "error", err)
				return
			}
			n.logger.Info("restarted without a leader; starting the election early")
		}
	}
}

// promiseVoid asks the leader a promise was made to whether it is still
// leader. Any answer from that leader other than Leader proves it will
// never again serve a lease read in the promised term: raft never leads
// the same term twice, and a Lease read checks raft's state (read.go).
// The answer is a proof only when it comes from the process now at the
// leader's address under the leader's ID: a restarted leader counts, as
// its lease died with the old process.
func (n *Node) promiseVoid(rec promiseRecord, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(n.life.ctx, timeout)
	defer cancel()
	var resp wire.StatusResponse
	if err := n.call(ctx, rec.leaderAddr, &wire.StatusRequest{}, &resp); err != nil || resp.Code != wire.CodeOK {
		return false
	}
	return resp.ID == rec.leaderID && resp.State != raft.Leader.String()
}

// electionWanted reports whether this follower has neither heard from a
// leader nor granted a vote since it started.
func (n *Node) electionWanted() bool {
	if n.raft.State() != raft.Follower {
		return false
	}
	if _, id := n.raft.LeaderWithID(); id != "" {
		return false
	}
	return n.raft.LastContact().IsZero()
}

// bestCandidate asks the other voters of the latest configuration for
// their status and reports whether this node should campaign first: a
// quorum (itself included) answered, none knows a leader, and none has a
// longer log (equal logs: the smallest ID goes first). The rest wait for
// the winner's first heartbeat, or raft's own timer if it never comes.
func (n *Node) bestCandidate(timeout time.Duration) bool {
	servers, err := n.votersNow()
	if err != nil {
		return false
	}
	var peers []raft.Server
	voters, self := 0, false
	for _, s := range servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		voters++
		if string(s.ID) == n.cfg.ID {
			self = true
		} else {
			peers = append(peers, s)
		}
	}
	if !self {
		return false
	}
	myLast := n.raft.LastIndex()
	ctx, cancel := context.WithTimeout(n.life.ctx, timeout)
	defer cancel()
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		answered = 1
		best     = true
	)
	for _, p := range peers {
		wg.Add(1)
		go func(p raft.Server) {
			defer wg.Done()
			var resp wire.StatusResponse
			if err := n.call(ctx, string(p.Address), &wire.StatusRequest{}, &resp); err != nil || resp.Code != wire.CodeOK || resp.ID != string(p.ID) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			answered++
			if resp.LeaderID != "" || resp.LastIndex > myLast ||
				(resp.LastIndex == myLast && strings.Compare(resp.ID, n.cfg.ID) < 0) {
				best = false
			}
		}(p)
	}
	wg.Wait()
	return best && answered >= quorum.Quorum(voters)
}

// campaignNow makes raft's follower loop check its heartbeat at once: in
// raft v1.7.3 a ReloadConfig that shortens HeartbeatTimeout wakes the
// follower's timer immediately (followerNotifyCh), and a follower that
// has had no contact then becomes a candidate, with pre-vote. The old
// timeout is restored right after; shortening it by a nanosecond changes
// no promise (handleConfirm counts HeartbeatTimeout from the Config).
func (n *Node) campaignNow() error {
	rc := n.raft.ReloadableConfig()
	hb := rc.HeartbeatTimeout
	rc.HeartbeatTimeout = hb - time.Nanosecond
	if err := n.raft.ReloadConfig(rc); err != nil {
		return err
	}
	rc.HeartbeatTimeout = hb
	return n.raft.ReloadConfig(rc)
}
