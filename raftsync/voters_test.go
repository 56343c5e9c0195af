package raftsync_test

import (
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

// TestRoundsCountTheLatestVoters: the leader's rounds count the voters of
// raft's latest configuration, not a list kept from membership events. The
// leader loses every event, two non-voters are promoted (3 -> 5 voters),
// and the leader is cut off from three of the five: with itself and one
// follower it has 2 of 5, no quorum, so no Strong or Lease read may be
// confirmed. Counted against the old 3 voters, 2 would be a quorum that
// does not meet the 3 the others can elect a new leader with; and a lease
// taken just before the change, counted against the 3, no longer holds.
func TestRoundsCountTheLatestVoters(t *testing.T) {
	net := faultnet.New()
	t.Cleanup(net.Close)
	c := testcluster.New(t, 5, testcluster.Options{Network: net, NonVoters: 2, Configure: func(i int, cfg *raftsync.Config) {
		if i == 0 { // the leader: slow to step down on its own
			cfg.RaftConfig = func(rc *raft.Config) {
				testcluster.FastRaft(rc)
				rc.HeartbeatTimeout = 5 * time.Second
				rc.ElectionTimeout = 5 * time.Second
				rc.LeaderLeaseTimeout = 5 * time.Second
			}
		}
	}})
	l := c.Members[0]
	testutil.WaitFor(t, 10*time.Second, "node0 leading", func() bool {
		return l.Node.State() == raft.Leader && l.Node.Readiness().State == readiness.Ready
	})
	raftsync.DropObservations(l.Node)
	// A lease, counted against the 3 voters, right before the change.
	if err := l.Node.Read(ctxTimeout(t, 5*time.Second), consistency.Strong, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	for _, m := range c.Members[3:] {
		if err := l.Node.Raft().AddVoter(raft.ServerID(m.ID), raft.ServerAddress(m.Addr), 0, 5*time.Second).Error(); err != nil {
			t.Fatalf("promoting %s: %v", m.ID, err)
		}
	}
	for _, m := range c.Members[2:] {
		if err := net.Cut(l.ID, m.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, level := range []consistency.Level{consistency.Lease, consistency.Strong} {
		err := l.Node.Read(ctxTimeout(t, time.Second), level, func() error { return nil })
		if err == nil {
			t.Fatalf("%v read confirmed by 2 of 5 voters", level)
		}
	}
	net.Heal()
}
