package raftsync_test

import (
	"errors"
	"fmt"
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

func TestStrongAndLeaseReadsSeeEveryAcknowledgedWrite(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{NonVoters: 0})
	for i := 0; i < 20; i++ {
		writer := c.Members[i%3]
		mustApply(t, writer, testcluster.Set("counter", fmt.Sprint(i)))
		// Immediately after the write returns, a Strong or Lease read on
		// any node, without WaitIndex, sees it.
		for _, m := range c.Members {
			for _, level := range []consistency.Level{consistency.Strong, consistency.Lease} {
				var got string
				err := m.Node.Read(ctxTimeout(t, 5*time.Second), level, func() error {
					got, _ = m.KV().Get("counter")
					return nil
				})
				if err != nil {
					t.Fatalf("%v read on %s: %v", level, m.ID, err)
				}
				if got != fmt.Sprint(i) {
					t.Fatalf("%v read on %s after write %d returned %q", level, m.ID, i, got)
				}
			}
		}
	}
}

func TestReadIndexReportsWhatItServedAt(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	idx := mustApply(t, c.Leader(), testcluster.Set("k", "v"))
	f := c.Followers()[0]
	info, err := f.Node.ReadIndex(ctxTimeout(t, 5*time.Second), consistency.Strong)
	if err != nil {
		t.Fatal(err)
	}
	if info.Index < idx || info.IsLeader || !info.KnownLeader || info.Level != consistency.Strong {
		t.Fatalf("follower ReadInfo %+v, want index ≥ %d from a known leader", info, idx)
	}
	if f.Node.AppliedIndex() < info.Index {
		t.Fatalf("ReadIndex returned before applying %d (applied %d)", info.Index, f.Node.AppliedIndex())
	}
}

func TestConcurrentStrongReadsShareRounds(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	leader := c.Leader()
	before := raftsync.LeaderRounds(leader.Node)
	const readers = 1000
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	start := make(chan struct{})
	for i := 0; i < readers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- leader.Node.Read(ctxTimeout(t, 10*time.Second), consistency.Strong, func() error { return nil })
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rounds := raftsync.LeaderRounds(leader.Node) - before
	t.Logf("%d concurrent Strong reads took %d quorum rounds", readers, rounds)
	if rounds == 0 || rounds > readers/10 {
		t.Fatalf("%d concurrent Strong reads took %d rounds, want a handful", readers, rounds)
	}
}

func TestLeaseReadsSkipRoundsWhileLeaseHolds(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	leader := c.Leader()
	// One Strong round establishes the lease.
	if err := leader.Node.Read(ctxTimeout(t, 5*time.Second), consistency.Strong, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	before := raftsync.LeaderRounds(leader.Node)
	reads := 0
	for i := 0; i < 200; i++ {
		if err := leader.Node.Read(ctxTimeout(t, 5*time.Second), consistency.Lease, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
		reads++
	}
	rounds := raftsync.LeaderRounds(leader.Node) - before
	// The lease lasts less than a heartbeat timeout and is renewed by a
	// round when it runs out; 200 sequential reads take far less than
	// that, or a few renewals at most on a slow machine.
	if rounds > 5 {
		t.Fatalf("%d Lease reads took %d rounds; the lease is not used", reads, rounds)
	}
}

// TestFollowerReadIndexByLevel: a follower asks the leader for a read
// index at the level its caller asked for. The leader answers a Lease
// request from its lease, with no round, and every Strong request with a
// round of its own, even right after a Lease answer to the same follower:
// a Strong read is never served at a lease's index.
func TestFollowerReadIndexByLevel(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	leader := c.Leader()
	follower := c.Followers()[0]
	read := func(m *testcluster.Member, level consistency.Level) {
		t.Helper()
		if err := m.Node.Read(ctxTimeout(t, 5*time.Second), level, func() error { return nil }); err != nil {
			t.Fatalf("%v read on %s: %v", level, m.ID, err)
		}
	}
	read(leader, consistency.Strong) // establishes the lease

	before := raftsync.LeaderRounds(leader.Node)
	for range 100 {
		read(follower, consistency.Lease)
	}
	// As in TestLeaseReadsSkipRoundsWhileLeaseHolds: a few renewals at
	// most on a slow machine.
	if rounds := raftsync.LeaderRounds(leader.Node) - before; rounds > 5 {
		t.Fatalf("100 Lease reads on a follower took %d leader rounds; the leader's lease is not used", rounds)
	}

	// A Strong read is answered by a quorum round, or, in a cluster of
	// three voters, by the follower's voucher (readvoucher.go), never from
	// the lease.
	for i := range 20 {
		read(follower, consistency.Lease)
		before := raftsync.LeaderRounds(leader.Node)
		vouched := leader.Node.Metrics().RoundsVouched
		read(follower, consistency.Strong)
		if raftsync.LeaderRounds(leader.Node) == before && leader.Node.Metrics().RoundsVouched == vouched {
			t.Fatalf("Strong read %d on a follower ran no leader round and no voucher stood in for one: it was served from the lease", i)
		}
	}
}

// TestDeposedLeaderServesNoStaleStrongOrLeaseRead cuts the leader off and
// lets the others elect a new leader and commit a write while the old
// leader still believes it leads (its own timeouts are long, the others'
// short). Neither a Strong nor a Lease read on the old leader may then
// return without the new write: a lease taken from the old leader's own
// timeouts, rather than from what the followers promised, would fail here.
func TestDeposedLeaderServesNoStaleStrongOrLeaseRead(t *testing.T) {
	net := faultnet.New()
	c := testcluster.New(t, 3, testcluster.Options{Network: net, Configure: func(i int, cfg *raftsync.Config) {
		cfg.RaftConfig = func(rc *raft.Config) {
			testcluster.FastRaft(rc)
			if i == 0 { // the bootstrap node leads first: slow to notice it was deposed
				rc.HeartbeatTimeout = 5 * time.Second
				rc.ElectionTimeout = 5 * time.Second
				rc.LeaderLeaseTimeout = 5 * time.Second
			}
		}
	}})
	old := c.Members[0]
	testutil.WaitFor(t, 10*time.Second, "node0 leading", func() bool {
		return old.Node.State() == raft.Leader && old.Node.Readiness().State == readiness.Ready
	})
	mustApply(t, old, testcluster.Set("k", "before"))
	// Take a lease on the old leader right before the cut.
	if err := old.Node.Read(ctxTimeout(t, 5*time.Second), consistency.Lease, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	net.Isolate(old.ID, c.Members[1].ID, c.Members[2].ID)

	newLeader := readyLeaderAmong(t, c.Members[1:])
	mustApply(t, newLeader, testcluster.Set("k", "after"))
	if old.Node.State() != raft.Leader {
		t.Skip("old leader stepped down before the check; its long timeouts did not hold on this machine")
	}
	for _, level := range []consistency.Level{consistency.Strong, consistency.Lease} {
		var got string
		err := old.Node.Read(ctxTimeout(t, 300*time.Millisecond), level, func() error {
			got, _ = old.KV().Get("k")
			return nil
		})
		if err == nil {
			t.Fatalf("deposed leader served a %v read (value %q) after the new leader committed", level, got)
		}
	}
	net.Heal()
	c.WaitReady(old)
}

func TestStaleBoundsOnPartitionedFollower(t *testing.T) {
	net := faultnet.New()
	c := testcluster.New(t, 3, testcluster.Options{Network: net})
	f := c.Followers()[0]
	mustApply(t, c.Leader(), testcluster.Set("k", "v"))
	var others []string
	for _, m := range c.Members {
		others = append(others, m.ID)
	}
	net.Isolate(f.ID, others...)
	testutil.WaitFor(t, 10*time.Second, "follower losing its leader", func() bool {
		id, _ := f.Node.Leader()
		return id == ""
	})
	// Without bounds the read is served from local state.
	if err := f.Node.Read(ctxTimeout(t, time.Second), consistency.Stale, func() error { return nil }); err != nil {
		t.Fatalf("unbounded Stale read on a partitioned follower: %v", err)
	}
	net.Heal()
	c.WaitReady(f)
}

func TestStaleMaxStalenessRefusesWhenCutOff(t *testing.T) {
	net := faultnet.New()
	c := testcluster.New(t, 3, testcluster.Options{Network: net, Configure: func(_ int, cfg *raftsync.Config) {
		cfg.Consistency.Stale.MaxStaleness = 300 * time.Millisecond
	}})
	f := c.Followers()[0]
	if err := f.Node.Read(ctxTimeout(t, time.Second), consistency.Stale, func() error { return nil }); err != nil {
		t.Fatalf("fresh follower refused a bounded Stale read: %v", err)
	}
	var others []string
	for _, m := range c.Members {
		others = append(others, m.ID)
	}
	net.Isolate(f.ID, others...)
	testutil.WaitFor(t, 10*time.Second, "bounded Stale read refused", func() bool {
		err := f.Node.Read(ctxTimeout(t, time.Second), consistency.Stale, func() error { return nil })
		var tse *consistency.TooStaleError
		return errors.Is(err, consistency.ErrTooStale) && errors.As(err, &tse)
	})
	net.Heal()
	c.WaitReady(f)
}

// TestReadFenceSurvivesCrash serves Stale reads with the fence on, crashes
// the node (no final record) and checks that after restart it holds at
// least what it served. With persistence throttled to once an hour, only
// the fence's group-committed writes can make that true.
func TestReadFenceSurvivesCrash(t *testing.T) {
	for _, fence := range []bool{true, false} {
		t.Run(fmt.Sprintf("fence=%v", fence), func(t *testing.T) {
			c := testcluster.New(t, 3, testcluster.Options{Configure: func(_ int, cfg *raftsync.Config) {
				cfg.ReadFence = fence
				cfg.Persist = readiness.PersistPolicy{EveryEntries: 1 << 40, Interval: time.Hour}
			}})
			f := c.Followers()[0]
			var served uint64
			for i := 0; i < 20; i++ {
				idx := mustApply(t, c.Leader(), testcluster.Set(fmt.Sprintf("k%d", i), "v"))
				if err := f.Node.WaitIndex(ctxTimeout(t, 5*time.Second), idx); err != nil {
					t.Fatal(err)
				}
				info, err := f.Node.ReadIndex(ctxTimeout(t, 5*time.Second), consistency.Stale)
				if err != nil {
					t.Fatal(err)
				}
				served = max(served, info.Index)
			}
			c.Crash(f)
			// Restart alone: the peers are stopped so nothing can arrive
			// from a leader before we look.
			for _, m := range c.Running() {
				c.Stop(m)
			}
			c.Start(f)
			applied := f.Node.AppliedIndex()
			if fence && applied < served {
				t.Fatalf("with the read fence, restarted at %d below the %d it served before the crash", applied, served)
			}
			if !fence && applied >= served {
				t.Logf("without the fence the node happened to hold %d ≥ %d", applied, served)
			}
		})
	}
}

// TestRestartedFollowerKeepsItsLeasePromise: a follower promises the leader
// not to vote for anyone else for a while, then crashes and restarts. Its
// memory of the leader is gone; without the vote fence it would vote for
// the first candidate at once, a new leader could commit, and the old
// leader, still inside the lease that follower's promise gave it, would
// serve a stale Lease read.
func TestRestartedFollowerKeepsItsLeasePromise(t *testing.T) {
	net := faultnet.New()
	long := func(rc *raft.Config) {
		rc.HeartbeatTimeout = 5 * time.Second
		rc.ElectionTimeout = 5 * time.Second
		rc.LeaderLeaseTimeout = 5 * time.Second
		rc.CommitTimeout = 5 * time.Millisecond
	}
	c := testcluster.New(t, 3, testcluster.Options{Network: net, Configure: func(i int, cfg *raftsync.Config) {
		switch i {
		case 0, 1: // the leader, and the follower whose promise is long
			cfg.RaftConfig = long
		default: // the follower that campaigns quickly
			cfg.RaftConfig = testcluster.FastRaft
		}
	}})
	old, promiser, candidate := c.Members[0], c.Members[1], c.Members[2]
	testutil.WaitFor(t, 10*time.Second, "node0 leading", func() bool {
		return old.Node.State() == raft.Leader && old.Node.Readiness().State == readiness.Ready
	})
	mustApply(t, old, testcluster.Set("k", "before"))
	if err := old.Node.Read(ctxTimeout(t, 5*time.Second), consistency.Strong, func() error { return nil }); err != nil {
		t.Fatal(err) // a round: the lease now rests on node1's ~5s promise
	}
	net.Isolate(old.ID, promiser.ID, candidate.ID)
	c.Crash(promiser)
	c.Start(promiser)

	var newLeader *testcluster.Member
	testutil.WaitFor(t, 30*time.Second, "a new leader", func() bool {
		for _, m := range []*testcluster.Member{promiser, candidate} {
			if m.Node.State() == raft.Leader && m.Node.Readiness().State == readiness.Ready {
				newLeader = m
				return true
			}
		}
		return false
	})
	mustApply(t, newLeader, testcluster.Set("k", "after"))
	var got string
	err := old.Node.Read(ctxTimeout(t, 300*time.Millisecond), consistency.Lease, func() error {
		got, _ = old.KV().Get("k")
		return nil
	})
	if err == nil {
		t.Fatalf("old leader served a Lease read (%q) after a new leader committed: the restarted follower broke its promise", got)
	}
	net.Heal()
}

// TestStrongReadNeedsOnlyAQuorum: with one follower's replies stalled, a
// Strong read on the leader completes on the other follower's
// confirmation; a round that waited for every voter would hang until its
// timeout.
func TestStrongReadNeedsOnlyAQuorum(t *testing.T) {
	net := faultnet.New()
	c := testcluster.New(t, 3, testcluster.Options{Network: net})
	leader := c.Leader()
	slow := c.Followers()[0]
	if err := net.Stall(slow.ID, leader.ID); err != nil {
		t.Fatal(err)
	}
	defer net.Heal()
	err := leader.Node.Read(ctxTimeout(t, 2*time.Second), consistency.Strong, func() error { return nil })
	if err != nil {
		t.Fatalf("Strong read with one stalled voter of three: %v", err)
	}
}

// readyLeaderAmong waits for one of members to lead and be Ready, and
// returns it.
func readyLeaderAmong(t *testing.T, members []*testcluster.Member) *testcluster.Member {
	t.Helper()
	var leader *testcluster.Member
	testutil.WaitFor(t, 10*time.Second, "a Ready leader among the members cut off from the old one", func() bool {
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
