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

// TestPausedLeaderServesNoStaleRead is the leader-lease hazard: the leader
// holds a lease and is serving Lease and Strong reads when it is paused
// (all its traffic held, both ways) for longer than the election wait. The
// others elect a new leader, which commits a write. Then the old leader
// resumes, with its old beliefs and its old messages still in flight, while
// readers keep reading on it. No read invoked after the new write was
// acknowledged may return the old value: the whole history must be
// linearizable.
//
// In the second case the old leader's own raft timeouts are long (5s), so
// that after resuming it still believes it leads until a peer's answer
// tells it otherwise: only the lease's reliance on the followers' promises
// (not on its own timers) and the confirmation rounds sent after each read
// arrives keep it from serving stale state.
func TestPausedLeaderServesNoStaleRead(t *testing.T) {
	for _, tc := range []struct {
		name    string
		slowOld bool
	}{
		{"default timeouts", false},
		{"old leader slow to step down", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := faultnet.NewSeeded(1)
			t.Cleanup(net.Close)
			c := testcluster.New(t, 3, testcluster.Options{
				Network: net,
				NewFSM:  func(int) raft.FSM { return NewFSM() },
				Configure: func(i int, cfg *raftsync.Config) {
					if tc.slowOld && i == 0 {
						cfg.RaftConfig = func(rc *raft.Config) {
							testcluster.FastRaft(rc)
							rc.HeartbeatTimeout = 5 * time.Second
							rc.ElectionTimeout = 5 * time.Second
							rc.LeaderLeaseTimeout = 5 * time.Second
						}
					}
				},
			})
			old := c.Members[0] // the bootstrap node leads first
			testutil.WaitFor(t, 20*time.Second, "node0 leading and Ready", func() bool {
				return old.Node.State() == raft.Leader && old.Node.Readiness().State == readiness.Ready
			})
			oldFSM := old.FSM.(*FSM)
			hist := NewHistory()
			recordWrite(t, hist, old, "before")
			// Take the lease right before the pause.
			if _, err := old.Node.ReadIndex(context.Background(), consistency.Lease); err != nil {
				t.Fatal(err)
			}

			stop := make(chan struct{})
			var wg sync.WaitGroup
			for client, level := range []consistency.Level{consistency.Lease, consistency.Strong, consistency.Lease} {
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
						ctx, cancel := context.WithTimeout(context.Background(), time.Second)
						op := Op{Client: client + 1, Node: 0, Kind: kind, Key: "k", Call: hist.Now()}
						info, err := old.Node.ReadIndex(ctx, level)
						cancel()
						if err != nil {
							continue // no answer is always allowed
						}
						op.Value, op.DataIndex = oldFSM.Read("k")
						op.Return, op.Result, op.Index = hist.Now(), OK, info.Index
						hist.Add(op)
					}
				}()
			}

			net.Pause(old.ID)
			next := waitReadyLeader(t, c.Members[1:], "a new leader among the others")
			after := recordWrite(t, hist, next, "after")
			believed := old.Node.State() == raft.Leader
			net.Resume(old.ID)
			t.Logf("old leader resumed; it still believed it led: %v", believed)
			testutil.WaitFor(t, 30*time.Second, "the old leader following the new one", func() bool {
				id, _ := old.Node.Leader()
				return id == next.ID && old.Node.State() == raft.Follower
			})
			// Go on reading on the old leader, now a follower, until some reads
			// invoked after the write have been served there.
			waitReadsAfter(t, hist, after, 10)
			close(stop)
			wg.Wait()

			checkReadsAfter(t, hist, after, "the old leader")
		})
	}
}

// waitReadyLeader waits until one of members is a Ready leader, and
// returns it.
func waitReadyLeader(t *testing.T, members []*testcluster.Member, what string) *testcluster.Member {
	t.Helper()
	var leader *testcluster.Member
	testutil.WaitFor(t, 30*time.Second, what, func() bool {
		for _, m := range members {
			if m.Node.State() == raft.Leader && m.Node.Readiness().State == readiness.Ready {
				leader = m
				return true
			}
		}
		return false
	})
	return leader
}

// recordWrite writes value to key "k" through m and records the write in
// hist; the test fails if the write does.
func recordWrite(t *testing.T, hist *History, m *testcluster.Member, value string) Op {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	op := Op{Node: m.Index, Kind: OpWrite, Key: "k", Value: value, Call: hist.Now()}
	res, err := m.Node.Apply(ctx, WriteCommand("k", value))
	op.Return = hist.Now()
	if err != nil {
		t.Fatalf("write %q on %s: %v", value, m.ID, err)
	}
	op.Result, op.Index = OK, res.Index
	op.ID = hist.Add(op)
	return op
}

// readsAfter counts the reads of hist invoked after the write after was
// acknowledged.
func readsAfter(hist *History, after Op) int {
	n := 0
	for _, op := range hist.Ops() {
		if op.Kind != OpWrite && op.Call > after.Return {
			n++
		}
	}
	return n
}

// waitReadsAfter waits until n reads invoked after the write after was
// acknowledged have been served.
func waitReadsAfter(t *testing.T, hist *History, after Op, n int) {
	t.Helper()
	testutil.WaitFor(t, 30*time.Second, "reads served after the write", func() bool { return readsAfter(hist, after) >= n })
}

// checkReadsAfter fails the test for every read of hist invoked after the
// write after was acknowledged that does not return after's value, and
// when the whole history is not linearizable. where names the node the
// reads were made on.
func checkReadsAfter(t *testing.T, hist *History, after Op, where string) {
	t.Helper()
	ops := hist.Ops()
	served, stale := 0, 0
	for _, op := range ops {
		if op.Kind == OpWrite || op.Call <= after.Return {
			continue
		}
		served++
		if op.Value != after.Value {
			stale++
			t.Errorf("stale read on %s: %s, invoked after the write %s was acknowledged", where, op, after)
		}
	}
	lin := checkLinearizable(ops, time.Minute, "", 0)
	if lin.result != porcupine.Ok {
		t.Errorf("history of %d operations is %s, want linearizable", lin.ops, lin.result)
	}
	t.Logf("%d operations; %d reads on %s invoked after the write (%d stale)", len(ops), served, where, stale)
}
