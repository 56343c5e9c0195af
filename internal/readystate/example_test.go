package readystate_test

import (
	"context"
	"fmt"

	"github.com/raftkit/raftkit/internal/readystate"
	"github.com/raftkit/raftkit/readiness"
)

// A restarting follower: it replays its own log up to the persisted index,
// learns its leader and the sync point, catches up and becomes Ready.
func ExampleTracker() {
	tr := readystate.NewTracker(readiness.Policy{}, nil)
	for _, o := range []readystate.Observation{
		{Recovering: true, Applied: 40, Persisted: 100},
		{Recovered: true, Applied: 100, Persisted: 100},
		{Recovered: true, Applied: 100, Persisted: 100, LeaderID: "n2"},
		{Recovered: true, Applied: 100, Persisted: 100, LeaderID: "n2", SyncIndex: 120, SyncKnown: true},
		{Recovered: true, Applied: 120, Persisted: 100, LeaderID: "n2", SyncIndex: 120, SyncKnown: true},
	} {
		s := tr.Update(o)
		if s.State == readiness.Ready {
			fmt.Println(s.State) // Ready has no reason
			continue
		}
		fmt.Printf("%s: %s\n", s.State, s.Reason)
	}
	res, err := tr.WaitReady(context.Background())
	fmt.Println(res.Status.State, err)
	// Output:
	// recovering: recovering local state: applied 40 of 100
	// recovered: waiting for a leader
	// recovered: waiting for the sync point from leader n2
	// catching_up: applied 100 of 120
	// ready
	// ready <nil>
}
