package faultsuite

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/readiness"
)

// TestRemovedMemberStopsBeingReady removes a follower (left running, as a
// member the operator removes while it is still up) and then a second time
// the leader itself: neither may go on reporting Ready (so /readyz 200)
// for longer than removedReadyBound after RemoveServer returned.
func TestRemovedMemberStopsBeingReady(t *testing.T) {
	for _, which := range []string{"follower", "leader"} {
		t.Run(which, func(t *testing.T) {
			c := testcluster.New(t, 3, testcluster.Options{NewFSM: func(int) raft.FSM { return NewFSM() }})
			l := c.Leader()
			m := l
			if which == "follower" {
				m = c.Followers()[0]
			}
			if err := c.Remove(ctxFor(t, 10*time.Second), m); err != nil {
				t.Fatalf("removing %s: %v", m.ID, err)
			}
			removed := time.Now()
			if present, _, known := c.InConfiguration(m); known && present {
				t.Fatalf("%s still in the leader's configuration after RemoveServer returned", m.ID)
			}
			changes, stop := m.Node.WatchReadiness() // seeded with the current status
			defer stop()
			timeout := time.After(removedReadyBound)
		wait:
			for {
				select {
				case st := <-changes:
					if st.State != readiness.Ready {
						break wait
					}
				case <-timeout:
					st := m.Node.Readiness()
					t.Fatalf("%s removed %v ago and still reports %s (%s): a removed member must stop saying ready",
						m.ID, time.Since(removed).Round(time.Millisecond), st.State, st.Reason)
				}
			}
			st := m.Node.Readiness()
			t.Logf("%s stopped reporting Ready %v after its removal: %s (%s)", m.ID, time.Since(removed).Round(time.Millisecond), st.State, st.Reason)
		})
	}
}
