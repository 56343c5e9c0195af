package quorum_test

import (
	"fmt"
	"time"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/quorum"
)

func ExampleEvaluateRound() {
	sentAt := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	voters := []string{"n1", "n2", "n3"}
	acks := []quorum.Ack{
		{ID: "n2", Term: 4, LeaderID: "n1", RefusesCandidatesFor: 900 * time.Millisecond},
		{ID: "n3", Term: 4, LeaderID: "n1", RefusesCandidatesFor: 400 * time.Millisecond},
	}
	opts := consistency.LeaseOptions{DriftRatio: 0.05, Margin: 10 * time.Millisecond, MaxDuration: time.Second}
	confirmed, until := quorum.EvaluateRound("n1", 4, voters, sentAt, acks, opts)
	fmt.Println("confirmed:", confirmed)
	fmt.Println("lease:", until.Sub(sentAt)) // 900ms*0.95 - 10ms
	// Output:
	// confirmed: true
	// lease: 845ms
}
