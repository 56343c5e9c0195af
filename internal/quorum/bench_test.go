package quorum

import (
	"fmt"
	"testing"
	"time"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/clock"
)

func BenchmarkEvaluateRound(b *testing.B) {
	for _, n := range []int{3, 5, 7} {
		b.Run(fmt.Sprintf("voters=%d", n), func(b *testing.B) {
			voters := make([]string, n)
			var acks []Ack
			for i := range voters {
				voters[i] = fmt.Sprintf("n%d", i)
				if i > 0 {
					acks = append(acks, Ack{ID: voters[i], Term: 2, LeaderID: "n0", RefusesCandidatesFor: time.Duration(i) * 100 * time.Millisecond})
				}
			}
			sentAt := time.Unix(1, 0)
			b.ReportAllocs()
			for b.Loop() {
				EvaluateRound("n0", 2, voters, sentAt, acks, consistency.LeaseOptions{})
			}
		})
	}
}

func BenchmarkLeaseValid(b *testing.B) {
	l := NewLease(clock.Real{})
	l.Grant(l.Begin(), 1, time.Now().Add(time.Hour))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Valid(1)
		}
	})
}
