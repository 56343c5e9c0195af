package raftsync_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
)

// BenchmarkApplyPersistence measures Apply throughput on a three-node
// loopback cluster with the applied-index record at its default throttle
// and with it effectively off, to show what the persistence costs.
//
//	go test -run '^$' -bench ApplyPersistence -benchtime 5s ./raftsync
func BenchmarkApplyPersistence(b *testing.B) {
	for _, tc := range []struct {
		name   string
		policy readiness.PersistPolicy
	}{
		{"default", readiness.PersistPolicy{}},
		{"every-entry", readiness.PersistPolicy{EveryEntries: 1}},
		{"off", readiness.PersistPolicy{EveryEntries: 1 << 62, Interval: 1000 * time.Hour}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := testcluster.New(b, 3, testcluster.Options{Configure: func(_ int, cfg *raftsync.Config) {
				cfg.Persist = tc.policy
			}})
			leader := c.Leader()
			var seq atomic.Int64
			b.SetParallelism(16) // 16 × GOMAXPROCS concurrent writers
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := seq.Add(1)
					if _, err := leader.Node.Apply(b.Context(), testcluster.Set(fmt.Sprintf("k%d", i%1000), "0123456789012345678901234567890123456789")); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}
