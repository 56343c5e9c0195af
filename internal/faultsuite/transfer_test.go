package faultsuite

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/faultnet"
	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/internal/testutil"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
)

// readers runs clients that read key k on one node at the given levels,
// each through Read with a closure, and records every read that was
// served into hist, until stop is called.
type readers struct {
	hist *History
	stop chan struct{}
	wg   sync.WaitGroup
}

func startReaders(hist *History, m *testcluster.Member, key string, levels ...consistency.Level) *readers {
	rs := &readers{hist: hist, stop: make(chan struct{})}
	fsm := m.FSM.(*FSM)
	node := m.Node
	for client, level := range levels {
		rs.wg.Add(1)
		go func() {
			defer rs.wg.Done()
			kind := map[consistency.Level]OpKind{consistency.Strong: OpStrong, consistency.Lease: OpLease, consistency.Stale: OpStale}[level]
			for {
				select {
				case <-rs.stop:
					return
				case <-time.After(time.Millisecond): // pacing, so that histories stay small enough to check
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				op := Op{Client: 100 + client, Node: m.Index, Kind: kind, Key: key, Call: hist.Now()}
				err := node.Read(ctx, level, func() error {
					op.Value, op.DataIndex = fsm.Read(key)
					return nil
				})
				cancel()
				if err != nil {
					op.Return, op.Result, op.Err = hist.Now(), Failed, err.Error()
					hist.Add(op)
					continue // no answer is always allowed
				}
				op.Return, op.Result, op.Index = hist.Now(), OK, op.DataIndex
				hist.Add(op)
			}
		}()
	}
	return rs
}

func (rs *readers) halt() {
	close(rs.stop)
	rs.wg.Wait()
}

// writeOp applies key=value on m and records it; the test fails when the
// write is not acknowledged.
func writeOp(t *testing.T, hist *History, m *testcluster.Member, key, value string) Op {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	op := Op{Node: m.Index, Kind: OpWrite, Key: key, Value: value, Call: hist.Now()}
	res, err := m.Node.Apply(ctx, WriteCommand(key, value))
	op.Return = hist.Now()
	if err != nil {
		t.Fatalf("write %s=%q on %s: %v", key, value, m.ID, err)
	}
	op.Result, op.Index = OK, res.Index
	op.ID = hist.Add(op)
	return op
}

// staleAfter returns the reads of ops invoked after w returned that do not
// return w's value (w is the last write of its key).
func staleAfter(ops []Op, w Op) (served int, stale []Op) {
	for _, op := range ops {
		if op.Kind == OpWrite || op.Key != w.Key || op.Call <= w.Return || op.Result != OK {
			continue
		}
		served++
		if op.Value != w.Value {
			stale = append(stale, op)
		}
	}
	return served, stale
}

// TestTimedOutTransferLeavesNoLease is the nemesis of a leadership
// transfer that times out while its TimeoutNow is held in the network and
// arrives late. The leader suspends its lease for the transfer; raft
// answers the transfer with "leadership transfer timeout" after
// ElectionTimeout, but its TimeoutNow RPC is still in flight (it waits up
// to the transport's timeout). Only the TimeoutNow is held
// (faultnet.StallMatching); the transfer times out; the leader keeps
// serving Lease reads, which renew its lease through the third voter. Then
// what the target and the third voter send the old leader is held, and the
// TimeoutNow released: the target campaigns with the transfer flag, the
// third voter grants the vote despite the promise it gave the old leader,
// and the new leader commits a write. The old leader, which learns of the
// new term from its own timers only, must not serve a Lease read invoked
// after that write was acknowledged with the old value.
func TestTimedOutTransferLeavesNoLease(t *testing.T) {
	net := faultnet.NewSeeded(2)
	t.Cleanup(net.Close)
	c := testcluster.New(t, 3, testcluster.Options{
		Network: net,
		NewFSM:  func(int) raft.FSM { return NewFSM() },
		Configure: func(i int, cfg *raftsync.Config) {
			if i != 1 {
				// The old leader and the third voter wait 2s before they
				// suspect their leader, so the third voter's promise, and
				// the lease it gives, last up to 2s: long enough that the
				// hazard does not hinge on how fast the new leader is
				// elected. The old leader steps down on its own as late as
				// raft allows (LeaderLeaseTimeout = HeartbeatTimeout), so
				// that the lease, not its raft timers, decides whether it
				// serves stale state. Its transfer times out after its
				// ElectionTimeout (2s).
				cfg.RaftConfig = func(rc *raft.Config) {
					testcluster.FastRaft(rc)
					rc.HeartbeatTimeout = 2 * time.Second
					rc.ElectionTimeout = 2 * time.Second
					rc.LeaderLeaseTimeout = rc.HeartbeatTimeout
				}
			}
		},
	})
	old := c.Members[0] // the bootstrap node leads first
	testutil.WaitFor(t, 20*time.Second, "node0 leading and Ready", func() bool {
		return old.Node.State() == raft.Leader && old.Node.Readiness().State == readiness.Ready
	})
	hist := NewHistory()
	writeOp(t, hist, old, "k", "before")
	// Every follower has the write: raft then picks the first voter of the
	// configuration after the leader, node1, as the transfer's target.
	for _, m := range c.Members[1:] {
		if err := m.Node.WaitIndex(ctxFor(t, 10*time.Second), old.Node.AppliedIndex()); err != nil {
			t.Fatal(err)
		}
	}
	target := c.Members[1]
	rs := startReaders(hist, old, "k", consistency.Lease, consistency.Lease, consistency.Strong)
	defer func() {
		if rs != nil {
			rs.halt()
		}
	}()

	// Only the TimeoutNow is held (with what follows it on its
	// connection): the rest of the traffic flows, so the target is caught
	// up and raft sends it.
	net.StallMatching(old.ID, target.ID, isTimeoutNow)
	err := old.Node.TransferLeadership(ctxFor(t, 5*time.Second))
	transferred := hist.Now()
	t.Logf("transfer returned: %v", err)
	if err == nil {
		t.Skip("the transfer succeeded although its target was cut off; the scenario needs it to time out")
	}
	// The old leader serves Lease reads again: its lease is back.
	testutil.WaitFor(t, 10*time.Second, "a Lease read served on the old leader after the transfer returned", func() bool {
		for _, op := range hist.Ops() {
			if op.Kind == OpLease && op.Call > transferred {
				return true
			}
		}
		return false
	})
	other := c.Members[2]
	// A Strong read renews the lease through the third voter right
	// before the release.
	if _, err := old.Node.ReadIndex(ctxFor(t, 5*time.Second), consistency.Strong); err != nil {
		t.Fatalf("renewing the old leader's lease: %v", err)
	}
	// From now on hold what the target and the third voter send the old
	// leader, then deliver the TimeoutNow: the old leader learns of the
	// new term from its own timers only, while the lease it renewed
	// through the third voter just before still runs.
	net.Stall(target.ID, old.ID)
	net.Stall(other.ID, old.ID)
	net.UnstallMatching(old.ID, target.ID) // the held TimeoutNow arrives
	// Before the fix the target campaigns at once on the late TimeoutNow
	// and the third voter grants its flagged vote. With it, the target's
	// fence asks the old leader, whose answer cannot arrive, and drops
	// the TimeoutNow: a new leader is then elected only once the
	// followers' promises have run out. Either way the new leader's write
	// must not be followed by a stale Lease read on the old leader.
	var leader *testcluster.Member
	testutil.WaitFor(t, 30*time.Second, "a new leader", func() bool {
		for _, m := range []*testcluster.Member{target, other} {
			if m.Node.State() == raft.Leader {
				leader = m
				return true
			}
		}
		return false
	})
	t.Logf("new leader: %s (the transfer's target: %s)", leader.ID, target.ID)
	after := writeOp(t, hist, leader, "k", "after")
	t.Logf("new leader's write acknowledged; the old leader believes it leads: %v", old.Node.State() == raft.Leader)
	// Leave the old leader cut off from the new one for a moment (one
	// heartbeat interval of the third voter is enough for it to learn the
	// new term), reading on it all along.
	testutil.WaitFor(t, 20*time.Second, "reads on the old leader invoked after the write", func() bool {
		n, _ := staleAfter(hist.Ops(), after)
		return n >= 10 || old.Node.State() != raft.Leader
	})
	net.Unstall(target.ID, old.ID)
	net.Unstall(other.ID, old.ID)
	testutil.WaitFor(t, 20*time.Second, "the old leader following the new one", func() bool {
		id, _ := old.Node.Leader()
		return id == leader.ID && old.Node.State() == raft.Follower
	})
	testutil.WaitFor(t, 20*time.Second, "reads on the old leader invoked after the write", func() bool {
		n, _ := staleAfter(hist.Ops(), after)
		return n >= 10
	})
	rs.halt()
	rs = nil

	ops := hist.Ops()
	served, stale := staleAfter(ops, after)
	for i, op := range stale {
		if i == 5 {
			t.Errorf("... and %d more stale reads", len(stale)-5)
			break
		}
		t.Errorf("stale read on the old leader: %s, invoked after the new leader's write %s was acknowledged", op, after)
	}
	if lin := checkLinearizable(ops, time.Minute, *flagOut, 0); lin.result != porcupine.Ok {
		t.Errorf("history of %d operations is %s, want linearizable", lin.ops, lin.result)
	}
	t.Logf("%d reads on the old leader invoked after the new write, %d stale", served, len(stale))
}
