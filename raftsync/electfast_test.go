package raftsync_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
)

// TestWholeClusterRestartElectsEarly restarts every member of a cluster
// whose followers promised the leader (a Strong read) with raft timeouts
// of a minute: raft's own election timer and the full restart fence
// would each hold the first election for at least a minute, so a leader
// within the test's 20 s proves both the early election and the fence
// ending once the promised leader is seen restarted. The new term being
// the old one plus one proves a single election round decided it.
func TestWholeClusterRestartElectsEarly(t *testing.T) {
	var slow atomic.Bool
	c := testcluster.New(t, 3, testcluster.Options{Configure: func(_ int, cfg *raftsync.Config) {
		cfg.FirstElectionTimeout = 50 * time.Millisecond
		cfg.RaftConfig = func(rc *raft.Config) {
			testcluster.FastRaft(rc)
			if slow.Load() {
				rc.HeartbeatTimeout = time.Minute
				rc.ElectionTimeout = time.Minute
			}
		}
	}})
	leader := c.Leader()
	for i := 0; i < 50; i++ {
		mustApply(t, leader, testcluster.Set(fmt.Sprintf("k%d", i), "v"))
	}
	if _, err := leader.Node.ReadIndex(ctxTimeout(t, 10*time.Second), consistency.Strong); err != nil {
		t.Fatalf("Strong read: %v", err)
	}
	oldTerm := leader.Node.Raft().CurrentTerm()
	for _, m := range c.Followers() {
		c.Stop(m)
	}
	c.Stop(leader)

	slow.Store(true)
	for _, m := range c.Members {
		c.Start(m)
	}
	for _, m := range c.Members {
		c.WaitReady(m)
	}
	now := c.Leader()
	if term := now.Node.Raft().CurrentTerm(); term != oldTerm+1 {
		t.Fatalf("leader %s elected in term %d after a restart from term %d, want one election round (term %d)",
			now.ID, term, oldTerm, oldTerm+1)
	}
	mustApply(t, now, testcluster.Set("after", "restart"))
}

// TestRestartedFollowerDoesNotDisruptLeader restarts a follower of a
// healthy cluster, several times: its early election must find the
// leader (or, were it to campaign, be stopped by pre-vote), so the
// leader and its term stay the same.
func TestRestartedFollowerDoesNotDisruptLeader(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	leader := c.Leader()
	term := leader.Node.Raft().CurrentTerm()
	f := c.Followers()[0]
	for round := 0; round < 3; round++ {
		mustApply(t, leader, testcluster.Set(fmt.Sprintf("r%d", round), "v"))
		if round == 1 {
			// A promise recorded before the restart: the fence holds
			// until it is kept, the leader answering that it still leads.
			if _, err := leader.Node.ReadIndex(ctxTimeout(t, 10*time.Second), consistency.Strong); err != nil {
				t.Fatalf("Strong read: %v", err)
			}
		}
		c.Restart(f)
		c.WaitReady(f)
		idx := mustApply(t, leader, testcluster.Set(fmt.Sprintf("after%d", round), "v"))
		waitConverged(t, c, idx)
		if got := leader.Node.Raft().CurrentTerm(); got != term || leader.Node.State() != raft.Leader {
			t.Fatalf("round %d: leader %s is %v in term %d after a follower restart, want Leader in term %d",
				round, leader.ID, leader.Node.State(), got, term)
		}
		if got := f.Node.Raft().CurrentTerm(); got != term {
			t.Fatalf("round %d: restarted follower in term %d, want %d", round, got, term)
		}
	}
}
