package raftsync_test

import (
	"errors"
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

// TestStaleMaxStalenessOnIsolatedLeader cuts the leader off from every
// other node while its own raft timeouts keep it leading for seconds. A
// bounded Stale read on it must be refused while it still believes it
// leads: its staleness counts from its last quorum contact, not 0.
func TestStaleMaxStalenessOnIsolatedLeader(t *testing.T) {
	const bound = 300 * time.Millisecond
	net := faultnet.New()
	c := testcluster.New(t, 3, testcluster.Options{Network: net, Configure: func(i int, cfg *raftsync.Config) {
		cfg.Consistency.Stale.MaxStaleness = bound
		cfg.RaftConfig = func(rc *raft.Config) {
			testcluster.FastRaft(rc)
			if i == 0 { // the bootstrap node leads first: slow to notice it is cut off
				rc.HeartbeatTimeout = 10 * time.Second
				rc.ElectionTimeout = 10 * time.Second
				rc.LeaderLeaseTimeout = 10 * time.Second
			}
		}
	}})
	leader := c.Members[0]
	testutil.WaitFor(t, 10*time.Second, "node0 leading", func() bool {
		return leader.Node.State() == raft.Leader && leader.Node.Readiness().State == readiness.Ready
	})
	mustApply(t, leader, testcluster.Set("k", "v"))
	if err := leader.Node.Read(ctxTimeout(t, 2*time.Second), consistency.Stale, func() error { return nil }); err != nil {
		t.Fatalf("connected leader refused a bounded Stale read: %v", err)
	}
	net.Isolate(leader.ID, c.Members[1].ID, c.Members[2].ID)
	t.Cleanup(net.Heal)
	cut := time.Now()
	var served int
	testutil.WaitFor(t, 4*time.Second, "bounded Stale read refused on the isolated leader", func() bool {
		err := leader.Node.Read(ctxTimeout(t, time.Second), consistency.Stale, func() error { return nil })
		if err == nil {
			served++
			return false
		}
		var tse *consistency.TooStaleError
		if !errors.Is(err, consistency.ErrTooStale) || !errors.As(err, &tse) {
			t.Fatalf("isolated leader: Stale read error %v, want ErrTooStale", err)
		}
		return true
	})
	if leader.Node.State() != raft.Leader {
		t.Skip("the isolated leader stepped down before the check; its long timeouts did not hold on this machine")
	}
	t.Logf("refused %v after the cut (bound %v), %d reads served before", time.Since(cut), bound, served)
}
