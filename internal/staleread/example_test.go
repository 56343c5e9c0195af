package staleread_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/staleread"
)

func ExampleCheck() {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	bounds := consistency.StaleBounds{MaxStaleness: 2 * time.Second}
	err := staleread.Check(bounds, staleread.Observation{
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
