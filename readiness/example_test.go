package readiness_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/raftkit/raftkit/readiness"
)

// A restarting follower: it replays its own log up to the persisted index,
// learns its leader and the sync point, catches up and becomes Ready.
func ExampleTracker() {
	tr := readiness.NewTracker(readiness.Policy{}, nil)
	for _, o := range []readiness.Observation{
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

// The applied-index record survives restarts and refuses to be trusted by
// another node.
func ExampleRecordFile() {
	dir, err := os.MkdirTemp("", "readiness-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	f := readiness.OpenRecordFile(filepath.Join(dir, "applied-index"))
	if _, err := f.Load(); errors.Is(err, readiness.ErrNoRecord) {
		fmt.Println("first start: P = 0")
	}
	if err := f.Store(readiness.Record{NodeID: "gw-1", ClusterID: "prod", Index: 4500, Term: 3}); err != nil {
		panic(err)
	}
	r, err := f.Load()
	fmt.Println("P =", r.Index, err)
	fmt.Println(r.Check("gw-2", "prod"))
	// Output:
	// first start: P = 0
	// P = 4500 <nil>
	// readiness: applied-index record belongs to another node or cluster: node ID is "gw-1" in the record, "gw-2" expected
}

// The readiness probe answers 503 with the reason until the node is Ready.
func ExampleReadyHandler() {
	tr := readiness.NewTracker(readiness.Policy{}, nil)
	probe := func() {
		rec := httptest.NewRecorder()
		readiness.ReadyHandler(tr).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	tr.Update(readiness.Observation{Recovered: true, Applied: 7})
	probe()
	tr.Update(readiness.Observation{Recovered: true, Applied: 7, LeaderID: "n1", SyncIndex: 7, SyncKnown: true})
	probe()
	// Output:
	// 503 recovered: waiting for a leader
	// 200 ready
}

// An application that rebuilds a routing table gets one Initial change for
// the whole replay, then one change per window.
func ExampleCoalescer() {
	co := readiness.NewCoalescer(10*time.Millisecond, nil)
	defer co.Close()
	sub := co.Subscribe()
	defer sub.Close()

	for i := uint64(1); i <= 5000; i++ { // replay during catch-up: nothing delivered
		co.Applied(i)
	}
	co.SetReady(true)
	fmt.Printf("%+v\n", <-sub.C())

	co.Applied(5001)
	co.Applied(5002)
	fmt.Printf("%+v\n", <-sub.C())
	// Output:
	// {From:0 To:5000 Initial:true}
	// {From:5000 To:5002 Initial:false}
}
