package faultsuite

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/faultnet"
	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/internal/testutil"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
)

// TestMinorityFollowerServesNoStaleRead: five voters split two | three.
// The two (the leader and one follower) have long raft timeouts, so they
// go on believing in their leader while the three elect a new one and
// commit a write. Readers on the minority's follower read at Strong and
// Lease all along; the follower asks its old leader, which may answer
// only with a quorum (a follower's voucher stands for a round only where
// the pair is a quorum, and the lease rests on the majority's promises).
// Every read invoked after the majority's write was acknowledged must see
// it, and the whole history must be linearizable.
//
// The random campaign does not produce this split (its members share
// their timeouts, so a cut-off minority steps down before the majority
// commits): a mutant that accepts a voucher without counting the quorum
// passed 25 of 25 campaign schedules and fails here.
func TestMinorityFollowerServesNoStaleRead(t *testing.T) {
	net := faultnet.NewSeeded(2)
	t.Cleanup(net.Close)
	slow := func(i int) bool { return i <= 1 }
	c := testcluster.New(t, 5, testcluster.Options{
		Network: net,
		NewFSM:  func(int) raft.FSM { return NewFSM() },
		Configure: func(i int, cfg *raftsync.Config) {
			if slow(i) {
				cfg.RaftConfig = func(rc *raft.Config) {
					testcluster.FastRaft(rc)
					rc.HeartbeatTimeout = 5 * time.Second
					rc.ElectionTimeout = 5 * time.Second
					rc.LeaderLeaseTimeout = 5 * time.Second
				}
			}
		},
	})
	old, follower := c.Members[0], c.Members[1] // the bootstrap node leads first
	testutil.WaitFor(t, 20*time.Second, "node0 leading, node1 following it, both Ready", func() bool {
		id, _ := follower.Node.Leader()
		return old.Node.State() == raft.Leader && old.Node.Readiness().State == readiness.Ready &&
			id == old.ID && follower.Node.Readiness().State == readiness.Ready
	})
	for _, m := range c.Members {
		c.WaitVoter(m) // the configuration settled: five voters
	}
	fsm := follower.FSM.(*FSM)
	hist := NewHistory()
	recordWrite(t, hist, old, "before")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var attempts atomic.Int64 // reads finished on the follower, answered or not
	for client, level := range []consistency.Level{consistency.Strong, consistency.Lease, consistency.Strong} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kind := map[consistency.Level]OpKind{consistency.Strong: OpStrong, consistency.Lease: OpLease}[level]
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				op := Op{Client: client + 1, Node: follower.Index, Kind: kind, Key: "k", Call: hist.Now()}
				err := follower.Node.Read(ctx, level, func() error {
					op.Value, op.DataIndex = fsm.Read("k")
					return nil
				})
				cancel()
				attempts.Add(1)
				if err != nil {
					continue // no answer is always allowed
				}
				op.Return, op.Result, op.Index = hist.Now(), OK, op.DataIndex
				hist.Add(op)
			}
		}()
	}

	testutil.WaitFor(t, 30*time.Second, "reads served on the follower before the split", func() bool {
		return len(hist.Ops()) >= 20
	})
	for _, a := range c.Members[:2] {
		for _, b := range c.Members[2:] {
			if err := net.Cut(a.ID, b.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	next := waitReadyLeader(t, c.Members[2:], "a new leader among the three")
	after := recordWrite(t, hist, next, "after")
	id, _ := follower.Node.Leader()
	believed := old.Node.State() == raft.Leader && id == old.ID
	t.Logf("after the majority's write, the minority still believed in its leader: %v (its rounds: %d confirmed, %d failed)", believed, old.Node.Metrics().RoundsConfirmed, old.Node.Metrics().RoundsFailed)
	// The minority's readers go on against their old leader before the
	// split heals: a dozen more reads (each ends within 300ms).
	split := attempts.Load()
	testutil.WaitFor(t, 30*time.Second, "reads finished on the cut-off follower", func() bool {
		return attempts.Load() >= split+12
	})
	net.Heal()
	testutil.WaitFor(t, 30*time.Second, "the follower following the new leader", func() bool {
		id, _ := follower.Node.Leader()
		return id == next.ID
	})
	waitReadsAfter(t, hist, after, 10)
	close(stop)
	wg.Wait()

	checkReadsAfter(t, hist, after, "the minority's follower")
}
