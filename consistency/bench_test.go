package consistency

import (
	"context"
	"fmt"
	"testing"
	"time"

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
					acks = append(acks, Ack{ID: voters[i], Term: 2, LeaderID: "n0", VoteFree: time.Duration(i) * 100 * time.Millisecond})
				}
			}
			sentAt := time.Unix(1, 0)
			b.ReportAllocs()
			for b.Loop() {
				EvaluateRound("n0", 2, voters, sentAt, acks, LeaseOptions{})
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

// BenchmarkBatcherDoParallel reports rounds per Do call: the sharing that
// concurrent readers get when each round costs about 100µs.
func BenchmarkBatcherDoParallel(b *testing.B) {
	bt := NewBatcher(func(ctx context.Context) (uint64, error) {
		t := time.NewTimer(100 * time.Microsecond)
		defer t.Stop()
		select {
		case <-t.C:
			return 1, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}, BatcherOptions{})
	defer bt.Close()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := bt.Do(context.Background()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(bt.Rounds())/float64(b.N), "rounds/op")
}
