package roundbatch_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftkit/raftkit/internal/roundbatch"
)

func ExampleBatcher() {
	var commitIndex atomic.Uint64
	commitIndex.Store(42)

	// The node's round: capture the read index, then confirm leadership
	// with a quorum (elided here), then return the captured index.
	round := func(ctx context.Context) (uint64, error) {
		index := commitIndex.Load()
		// ... send ConfirmRequest to every voter, EvaluateRound the acks ...
		return index, nil
	}
	b := roundbatch.New(round, roundbatch.Options{Timeout: time.Second})
	defer b.Close()

	// Concurrent readers share rounds: however they interleave, eight
	// readers cost at most a handful of rounds.
	var wg sync.WaitGroup
	var served atomic.Int32
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if index, err := b.Do(context.Background()); err == nil && index >= 42 {
				served.Add(1)
			}
		}()
	}
	wg.Wait()
	fmt.Println("reads served:", served.Load())

	b.Close()
	_, err := b.Do(context.Background())
	fmt.Println(err)
	// Output:
	// reads served: 8
	// roundbatch: batcher closed
}
