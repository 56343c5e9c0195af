package roundbatch

import (
	"context"
	"testing"
	"time"
)

// BenchmarkBatcherDoParallel reports rounds per Do call: the sharing that
// concurrent readers get when each round costs about 100µs.
func BenchmarkBatcherDoParallel(b *testing.B) {
	bt := New(func(ctx context.Context) (uint64, error) {
		t := time.NewTimer(100 * time.Microsecond)
		defer t.Stop()
		select {
		case <-t.C:
			return 1, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}, Options{})
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

// BenchmarkBatcherDoLead reports the allocations of a round its caller
// leads on an idle Batcher (the lone reader's path), the round reading its
// ctx's Done channel as an RPC would.
func BenchmarkBatcherDoLead(b *testing.B) {
	bt := New(func(ctx context.Context) (uint64, error) {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		default:
			return 1, nil
		}
	}, Options{})
	defer bt.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bt.Do(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
