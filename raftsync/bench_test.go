package raftsync_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftkit/raftkit/consistency"
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

// BenchmarkRead measures each read level on the leader and on a follower
// with 1 and 64 concurrent readers, next to the naive baseline of one raw
// raft.VerifyLeader per read, in the same run.
//
//	go test -run '^$' -bench 'Read/' -benchtime 2s ./raftsync
func BenchmarkRead(b *testing.B) {
	c := testcluster.New(b, 3, testcluster.Options{})
	leader := c.Leader()
	follower := c.Followers()[0]
	mustApplyB(b, leader)
	for _, readers := range []int{1, 64} {
		for _, where := range []struct {
			name string
			m    *testcluster.Member
		}{{"leader", leader}, {"follower", follower}} {
			for _, level := range []consistency.Level{consistency.Strong, consistency.Lease, consistency.Stale} {
				b.Run(fmt.Sprintf("%s/%s/readers=%d", level, where.name, readers), func(b *testing.B) {
					runReaders(b, readers, func() error {
						return where.m.Node.Read(b.Context(), level, func() error { return nil })
					})
				})
			}
		}
		b.Run(fmt.Sprintf("verifyleader/leader/readers=%d", readers), func(b *testing.B) {
			runReaders(b, readers, func() error { return leader.Node.Raft().VerifyLeader().Error() })
		})
	}
}

func mustApplyB(b *testing.B, m *testcluster.Member) {
	if _, err := m.Node.Apply(b.Context(), testcluster.Set("k", "v")); err != nil {
		b.Fatal(err)
	}
}

// runReaders runs read b.N times over n goroutines and reports reads/s.
func runReaders(b *testing.B, n int, read func() error) {
	b.ReportAllocs()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := read(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}
