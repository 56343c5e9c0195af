package consistency_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftkit/raftkit/consistency"
)

func ExampleParseLevel() {
	level, err := consistency.ParseLevel("Lease")
	fmt.Println(level, err)

	_, err = consistency.ParseLevel("eventual")
	fmt.Println(errors.Is(err, consistency.ErrUnknownLevel))
	fmt.Println(err)

	var zero consistency.Level
	fmt.Println("default:", zero)
	// Output:
	// lease <nil>
	// true
	// consistency: unknown read level: "eventual" (valid: strong, lease, stale)
	// default: strong
}

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
	b := consistency.NewBatcher(round, consistency.BatcherOptions{Timeout: time.Second})
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
	// consistency: batcher closed
}

func ExampleEvaluateRound() {
	sentAt := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	voters := []string{"n1", "n2", "n3"}
	acks := []consistency.Ack{
		{ID: "n2", Term: 4, LeaderID: "n1", VoteFree: 900 * time.Millisecond},
		{ID: "n3", Term: 4, LeaderID: "n1", VoteFree: 400 * time.Millisecond},
	}
	opts := consistency.LeaseOptions{DriftRatio: 0.05, Margin: 10 * time.Millisecond, MaxDuration: time.Second}
	confirmed, until := consistency.EvaluateRound("n1", 4, voters, sentAt, acks, opts)
	fmt.Println("confirmed:", confirmed)
	fmt.Println("lease:", until.Sub(sentAt)) // 900ms*0.95 - 10ms
	// Output:
	// confirmed: true
	// lease: 845ms
}

func ExampleCheckStale() {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	bounds := consistency.StaleBounds{MaxStaleness: 2 * time.Second}
	err := consistency.CheckStale(bounds, consistency.StaleObservation{
		LeaderKnown: true,
		LastContact: now.Add(-5 * time.Second),
		Applied:     120,
		CommitIndex: 120,
		Now:         now,
	})
	fmt.Println(errors.Is(err, consistency.ErrTooStale))
	fmt.Println(err)
	// Output:
	// true
	// consistency: read too stale: last leader contact 5s ago, 3s over the bound of 2s
}
