package raftsync_test

import (
	"context"
	"sync"
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

// TestLateTimeoutNowServesNoStaleLeaseRead is the late-TimeoutNow hazard.
// The leader's traffic to the transfer target is held, so raft's transfer
// times out while its TimeoutNow is still on the wire. The leader then goes
// on serving Lease reads. When the held bytes are delivered, the target
// campaigns with the transfer flag, the third node (which promised the old
// leader) votes for it, and the new leader commits a write. No Lease read
// on the old leader invoked after that write was acknowledged may miss it.
//
// The old leader is cut off from the others' answers before the release
// (its traffic to the third node and the target's traffic to it are held),
// so that nothing but its lease decides whether it serves. Its own raft
// timeouts are 1s (so it does not step down at once), the target's are
// long (so that it does not campaign on its own while held), the third
// node's are short: its promise to the old leader is the lease.
func TestLateTimeoutNowServesNoStaleLeaseRead(t *testing.T) {
	net := faultnet.New()
	t.Cleanup(net.Close)
	c := testcluster.New(t, 3, testcluster.Options{Network: net, Configure: func(i int, cfg *raftsync.Config) {
		cfg.RaftConfig = func(rc *raft.Config) {
			testcluster.FastRaft(rc)
			switch i {
			case 0:
				rc.HeartbeatTimeout = time.Second
				rc.ElectionTimeout = time.Second
				rc.LeaderLeaseTimeout = time.Second
			case 1:
				rc.HeartbeatTimeout = 5 * time.Second
				rc.ElectionTimeout = 5 * time.Second
				rc.LeaderLeaseTimeout = 5 * time.Second
			}
		}
	}})
	old, target, third := c.Members[0], c.Members[1], c.Members[2]
	testutil.WaitFor(t, 10*time.Second, "node0 leading", func() bool {
		return old.Node.State() == raft.Leader && old.Node.Readiness().State == readiness.Ready
	})
	idx := mustApply(t, old, testcluster.Set("k", "before"))
	// raft transfers to the first voter in configuration order among those
	// furthest replicated: with both followers caught up, node1.
	testutil.WaitFor(t, 10*time.Second, "followers caught up", func() bool {
		return target.Node.AppliedIndex() >= idx && third.Node.AppliedIndex() >= idx
	})

	if err := net.Stall(old.ID, target.ID); err != nil {
		t.Fatal(err)
	}
	err := old.Node.TransferLeadership(ctxTimeout(t, 10*time.Second))
	if err == nil {
		t.Fatal("leadership transfer succeeded although the target's traffic was held")
	}
	if old.Node.State() != raft.Leader {
		t.Skipf("old leader stepped down during the held transfer: %v", err)
	}

	// Readers on the old leader from now on.
	type read struct {
		call  time.Time
		value string
	}
	var (
		mu    sync.Mutex
		reads []read
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				call := time.Now()
				var v string
				err := old.Node.Read(ctx, consistency.Lease, func() error {
					v, _ = old.KV().Get("k")
					return nil
				})
				cancel()
				if err == nil {
					mu.Lock()
					reads = append(reads, read{call, v})
					mu.Unlock()
				}
			}
		}()
	}
	testutil.WaitFor(t, 5*time.Second, "a Lease read served on the old leader after the transfer", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(reads) > 0
	})

	// Cut the old leader off from every answer, then deliver the held
	// TimeoutNow.
	for _, l := range [][2]string{{old.ID, third.ID}, {target.ID, old.ID}} {
		if err := net.Stall(l[0], l[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := net.Unstall(old.ID, target.ID); err != nil {
		t.Fatal(err)
	}
	var acked time.Time
	won := eventually(3*time.Second, func() bool {
		if target.Node.State() != raft.Leader {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := target.Node.Apply(ctx, testcluster.Set("k", "after"))
		if err != nil {
			t.Logf("write on the new leader: %v", err)
			return false
		}
		acked = time.Now()
		return true
	})
	if won {
		// Go on reading on the old leader until it steps down (it hears
		// from no one, so its raft gives up leading after 1s): its lease,
		// if any, ends with its term.
		testutil.WaitFor(t, 10*time.Second, "the old leader stepping down", func() bool {
			return old.Node.State() != raft.Leader
		})
	}
	close(stop)
	wg.Wait()
	net.Heal()
	if !won {
		// The target did not campaign on the late TimeoutNow: no other
		// leader, so no read can have been stale.
		t.Logf("the target did not win with the late TimeoutNow")
		return
	}
	served, stale := 0, 0
	for _, r := range reads {
		if r.call.After(acked) {
			served++
			if r.value != "after" {
				stale++
			}
		}
	}
	if stale > 0 {
		t.Fatalf("old leader served %d of %d Lease reads invoked after the new leader acknowledged a write with the old value", stale, served)
	}
	t.Logf("%d Lease reads on the old leader invoked after the new write, none stale", served)
}

// eventually polls cond until it returns true or d passes, and reports
// whether it did; for conditions that have no event to wait on.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

// TestTransferLeadershipHandsOver: a transfer with every link healthy
// succeeds through the transfer checks (the target's on TimeoutNow, the
// voters' on the flagged vote requests), the target leads, and the old
// leader serves Lease reads again only through the new leader.
func TestTransferLeadershipHandsOver(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	old := c.Leader()
	mustApply(t, old, testcluster.Set("k", "before"))
	if err := old.Node.TransferLeadership(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("TransferLeadership: %v", err)
	}
	l := c.Leader()
	if l == old {
		t.Fatal("the old leader still leads after a successful transfer")
	}
	mustApply(t, l, testcluster.Set("k", "after"))
	var got string
	if err := old.Node.Read(ctxTimeout(t, 5*time.Second), consistency.Lease, func() error {
		got, _ = old.KV().Get("k")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got != "after" {
		t.Fatalf("Lease read on the old leader after the transfer returned %q", got)
	}
}

// TestFailedTransferKeepsLeaseVoid: after a transfer attempt that failed
// (here its context ended while the TimeoutNow was held), the leader holds
// no lease: every Lease read runs a quorum round, as a Strong read does,
// for as long as a TimeoutNow of that attempt could still be delivered.
// The held TimeoutNow, delivered after the attempt ended, is refused by
// the target's transfer check: the old leader still leads.
func TestFailedTransferKeepsLeaseVoid(t *testing.T) {
	net := faultnet.New()
	t.Cleanup(net.Close)
	c := testcluster.New(t, 3, testcluster.Options{Network: net})
	old := c.Members[0]
	testutil.WaitFor(t, 10*time.Second, "node0 leading", func() bool {
		return old.Node.State() == raft.Leader && old.Node.Readiness().State == readiness.Ready
	})
	idx := mustApply(t, old, testcluster.Set("k", "v"))
	testutil.WaitFor(t, 10*time.Second, "followers caught up", func() bool {
		return c.Members[1].Node.AppliedIndex() >= idx && c.Members[2].Node.AppliedIndex() >= idx
	})
	if err := net.Stall(old.ID, c.Members[1].ID); err != nil {
		t.Fatal(err)
	}
	if err := old.Node.TransferLeadership(ctxTimeout(t, 100*time.Millisecond)); err == nil {
		t.Fatal("transfer succeeded with the target's traffic held")
	}
	if err := net.Unstall(old.ID, c.Members[1].ID); err != nil {
		t.Fatal(err)
	}
	const reads = 30
	before := raftsync.LeaderRounds(old.Node)
	for range reads {
		if err := old.Node.Read(ctxTimeout(t, 5*time.Second), consistency.Lease, func() error { return nil }); err != nil {
			t.Fatalf("Lease read on the leader after the failed transfer: %v", err)
		}
	}
	if rounds := raftsync.LeaderRounds(old.Node) - before; rounds < reads {
		t.Fatalf("%d sequential Lease reads after a failed transfer ran %d rounds: a lease was used", reads, rounds)
	}
	if old.Node.State() != raft.Leader {
		t.Fatal("the old leader lost leadership: the late TimeoutNow was acted on")
	}
}
