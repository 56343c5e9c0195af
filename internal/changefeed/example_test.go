package changefeed_test

import (
	"fmt"
	"time"

	"github.com/raftkit/raftkit/internal/changefeed"
)

// An application that rebuilds a routing table gets one Initial change for
// the whole replay, then one change per window.
func ExampleCoalescer() {
	co := changefeed.NewCoalescer(10*time.Millisecond, nil)
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
