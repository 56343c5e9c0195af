package raftsync_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/goleak"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/internal/testutil"
	"github.com/raftkit/raftkit/raftsync"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// mustApply applies cmd through m and returns the index.
func mustApply(t *testing.T, m *testcluster.Member, cmd []byte) uint64 {
	t.Helper()
	res, err := m.Node.Apply(ctxTimeout(t, 10*time.Second), cmd)
	if err != nil {
		t.Fatalf("Apply via %s: %v", m.ID, err)
	}
	return res.Index
}

// waitConverged waits until every running member applied index and holds
// the same data, and returns that data's fingerprint.
func waitConverged(t *testing.T, c *testcluster.Cluster, index uint64) string {
	t.Helper()
	var want string
	for i, m := range c.Running() {
		if err := m.Node.WaitIndex(ctxTimeout(t, 10*time.Second), index); err != nil {
			t.Fatalf("%s WaitIndex(%d): %v", m.ID, index, err)
		}
		got := m.KV().Fingerprint()
		if i == 0 {
			want = got
		} else if got != want {
			t.Fatalf("%s diverged:\n got %s\nwant %s", m.ID, got, want)
		}
		if d := m.KV().DoubleApplied(); len(d) > 0 {
			t.Fatalf("%s applied entries twice: %v", m.ID, d)
		}
	}
	return want
}

func TestWritesThroughEveryNodeConverge(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	var last uint64
	for i := 0; i < 30; i++ {
		m := c.Members[i%3]
		last = mustApply(t, m, testcluster.Set(fmt.Sprintf("k%02d", i), fmt.Sprintf("v%d", i)))
	}
	waitConverged(t, c, last)
	for _, m := range c.Members {
		if got := m.KV().Len(); got != 30 {
			t.Fatalf("%s holds %d keys, want 30", m.ID, got)
		}
	}
}

func TestApplyReturnsFSMResponseAndError(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	leader := c.Leader()
	follower := c.Followers()[0]
	mustApply(t, leader, testcluster.Set("a", "1"))

	// The FSM's response comes back on the leader and, forwarded, on a
	// follower.
	for _, m := range []*testcluster.Member{leader, follower} {
		res, err := m.Node.Apply(ctxTimeout(t, 5*time.Second), testcluster.Set("a", "2"))
		if err != nil {
			t.Fatalf("Apply via %s: %v", m.ID, err)
		}
		if res.Response == nil || res.Index == 0 {
			t.Fatalf("Apply via %s: result %+v, want previous value and an index", m.ID, res)
		}
	}
	// An FSM error is the returned error, an *ApplyError that unwraps to
	// the registered ErrBadCommand on every node; the entry is committed.
	for _, m := range []*testcluster.Member{leader, follower} {
		res, err := m.Node.Apply(ctxTimeout(t, 5*time.Second), []byte("garbage"))
		var ae *raftsync.ApplyError
		if !errors.Is(err, testcluster.ErrBadCommand) || !errors.As(err, &ae) || res.Index == 0 || ae.Index != res.Index {
			t.Fatalf("Apply(garbage) via %s = %+v, %v; want an *ApplyError for ErrBadCommand with the index", m.ID, res, err)
		}
	}
}

func TestLeaderFailoverResumesWrites(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	old := c.Leader()
	idx := mustApply(t, old, testcluster.Set("before", "1"))
	waitConverged(t, c, idx)
	c.Stop(old)

	survivor := c.Running()[0]
	// Apply through a survivor: it waits for the new leader within ctx.
	idx = mustApply(t, survivor, testcluster.Set("after", "2"))
	newLeader := c.Leader()
	if newLeader == old {
		t.Fatal("stopped node still leader")
	}
	waitConverged(t, c, idx)
	for _, m := range c.Running() {
		if v, _ := m.KV().Get("before"); v != "1" {
			t.Fatalf("%s lost the write acknowledged before failover", m.ID)
		}
	}
	// The old leader comes back as a follower and catches up.
	c.Start(old)
	c.WaitReady(old)
	waitConverged(t, c, idx)
}

func TestRestartedFollowerCatchesUp(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	f := c.Followers()[0]
	for i := 0; i < 20; i++ {
		mustApply(t, c.Leader(), testcluster.Set(fmt.Sprintf("a%d", i), "x"))
	}
	c.Stop(f)
	var last uint64
	for i := 0; i < 20; i++ {
		last = mustApply(t, c.Leader(), testcluster.Set(fmt.Sprintf("b%d", i), "y"))
	}
	c.Start(f)
	c.WaitReady(f)
	// Ready means caught up to the sync point: the writes made while it was
	// down are there without waiting further.
	if f.Node.AppliedIndex() < last {
		t.Fatalf("ready with applied %d < %d, the last write acknowledged before its restart", f.Node.AppliedIndex(), last)
	}
	if got := f.KV().Len(); got != 40 {
		t.Fatalf("restarted follower holds %d keys, want 40", got)
	}
	waitConverged(t, c, last)
}

func TestNonVoterReplicatesAndForwards(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{NonVoters: 1})
	nv := c.Members[2]
	st := c.Leader().Node.Status()
	var found bool
	for _, m := range st.Members {
		if m.ID == nv.ID {
			found = true
			if !m.NonVoter {
				t.Fatalf("%s joined as a voter", nv.ID)
			}
		}
	}
	if !found {
		t.Fatalf("%s not in configuration %+v", nv.ID, st.Members)
	}
	idx := mustApply(t, nv, testcluster.Set("from-nonvoter", "1"))
	waitConverged(t, c, idx)
	// Strong reads work on a non-voter too.
	err := nv.Node.Read(ctxTimeout(t, 5*time.Second), consistency.Strong, func() error {
		if v, _ := nv.KV().Get("from-nonvoter"); v != "1" {
			return fmt.Errorf("strong read on non-voter missed the write")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLeaveAndRemoveServer(t *testing.T) {
	c := testcluster.New(t, 4, testcluster.Options{})
	leaver := c.Followers()[0]
	if err := leaver.Node.Leave(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if _, err := leaver.Node.Apply(ctxTimeout(t, time.Second), testcluster.Set("x", "1")); !errors.Is(err, raftsync.ErrClosed) {
		t.Fatalf("Apply after Leave = %v, want ErrClosed", err)
	}
	leaver.Node = nil

	// A dead member is removed through any node.
	dead := c.Followers()[0]
	c.Stop(dead)
	via := c.Followers()[0]
	if err := via.Node.RemoveServer(ctxTimeout(t, 10*time.Second), dead.ID); err != nil {
		t.Fatalf("RemoveServer: %v", err)
	}
	testutil.WaitFor(t, 5*time.Second, "configuration without the removed members", func() bool {
		for _, m := range c.Leader().Node.Status().Members {
			if m.ID == leaver.ID || m.ID == dead.ID {
				return false
			}
		}
		return true
	})
	// The remaining two still commit.
	mustApply(t, via, testcluster.Set("still", "works"))
}

func TestLeaderLeaveHandsOverLeadership(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	old := c.Leader()
	if err := old.Node.Leave(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("leader Leave: %v", err)
	}
	old.Node = nil
	l := c.Leader()
	for _, m := range l.Node.Status().Members {
		if m.ID == old.ID {
			t.Fatalf("old leader still a member after Leave")
		}
	}
	mustApply(t, l, testcluster.Set("k", "v"))
}

func TestDirLockedByLiveNode(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.Options{})
	m := c.Members[0]
	_, err := raftsync.Open(ctxTimeout(t, 5*time.Second), raftsync.Config{ID: m.ID, Dir: m.Dir, Addr: "127.0.0.1:0"}, testcluster.NewKV())
	if !errors.Is(err, raftsync.ErrDirLocked) {
		t.Fatalf("second Open of a live Dir = %v, want ErrDirLocked", err)
	}
	// The live node is unaffected.
	mustApply(t, m, testcluster.Set("a", "b"))
}

func TestReopenKeepsIdentityAndDoesNotRejoin(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	f := c.Followers()[0]
	cluster := f.Node.ClusterID()
	idx := mustApply(t, c.Leader(), testcluster.Set("k", "v"))
	waitConverged(t, c, idx)
	c.Restart(f)
	c.WaitReady(f)
	if f.Node.ClusterID() != cluster || cluster == "" {
		t.Fatalf("cluster id after restart %q, before %q", f.Node.ClusterID(), cluster)
	}
	if n := len(c.Leader().Node.Status().Members); n != 3 {
		t.Fatalf("configuration has %d members after a restart, want 3", n)
	}
}

func TestClusterIDMismatchRefused(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.Options{})
	cfg := raftsync.Config{
		ID: "intruder", Dir: t.TempDir(), Addr: "127.0.0.1:0", ClusterID: "some-other-cluster",
		Join: []string{c.Members[0].Addr}, RaftConfig: testcluster.FastRaft, Logger: testcluster.Logger(t, "intruder"),
	}
	_, err := raftsync.Open(ctxTimeout(t, 5*time.Second), cfg, testcluster.NewKV())
	if !errors.Is(err, raftsync.ErrClusterMismatch) {
		t.Fatalf("joining another cluster = %v, want ErrClusterMismatch", err)
	}
	if n := len(c.Members[0].Node.Status().Members); n != 1 {
		t.Fatalf("refused node was added anyway: %d members", n)
	}
}

func TestStateIsRaftRole(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	leaders := 0
	for _, m := range c.Members {
		if m.Node.State() == raft.Leader {
			leaders++
		}
		id, addr := m.Node.Leader()
		if id == "" || addr == "" {
			t.Fatalf("%s knows no leader", m.ID)
		}
	}
	if leaders != 1 {
		t.Fatalf("%d leaders", leaders)
	}
}
