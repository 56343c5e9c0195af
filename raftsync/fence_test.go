package raftsync_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
)

// TestReadFenceCoversEveryLevel serves Strong and Lease reads (through
// Read and through ReadIndex) with the read fence on and persistence
// throttled to once an hour, crashes the node that served them (no final
// record) and restarts it with every peer down, so that only its local
// state counts. A Stale read then must not be below what the node served
// before the crash: the fence covers every level, not only Stale.
func TestReadFenceCoversEveryLevel(t *testing.T) {
	tests := []struct {
		name     string
		level    consistency.Level
		onLeader bool
		viaIndex bool // ReadIndex then a local read, instead of Read
		// lateRead: the local read after ReadIndex runs after more entries
		// were applied, and the reader fences what it saw with Fence.
		lateRead bool
	}{
		{name: "Strong Read on a follower", level: consistency.Strong},
		{name: "Lease Read on the leader", level: consistency.Lease, onLeader: true},
		{name: "Strong ReadIndex on a follower", level: consistency.Strong, viaIndex: true},
		{name: "Lease ReadIndex on the leader", level: consistency.Lease, onLeader: true, viaIndex: true},
		{name: "Strong ReadIndex, later read fenced with Fence", level: consistency.Strong, viaIndex: true, lateRead: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testcluster.New(t, 3, testcluster.Options{Configure: func(_ int, cfg *raftsync.Config) {
				cfg.ReadFence = true
				cfg.Persist = readiness.PersistPolicy{EveryEntries: 1 << 40, Interval: time.Hour}
			}})
			m := c.Leader()
			if !tt.onLeader {
				m = c.Followers()[0]
			}
			var served uint64
			for i := 0; i < 10; i++ {
				mustApply(t, c.Leader(), testcluster.Set(fmt.Sprintf("k%d", i), "v"))
				if tt.viaIndex {
					info, err := m.Node.ReadIndex(ctxTimeout(t, 5*time.Second), tt.level)
					if err != nil {
						t.Fatal(err)
					}
					served = max(served, info.Index)
					if tt.lateRead {
						idx := mustApply(t, c.Leader(), testcluster.Set(fmt.Sprintf("late%d", i), "v"))
						if err := m.Node.WaitIndex(ctxTimeout(t, 5*time.Second), idx); err != nil {
							t.Fatal(err)
						}
						saw := m.Node.AppliedIndex() // what a read now reflects
						if err := m.Node.Fence(ctxTimeout(t, 5*time.Second), saw); err != nil {
							t.Fatal(err)
						}
						served = max(served, saw)
					}
					continue
				}
				err := m.Node.Read(ctxTimeout(t, 5*time.Second), tt.level, func() error {
					served = max(served, m.Node.AppliedIndex())
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			c.Crash(m)
			for _, o := range c.Running() {
				c.Stop(o)
			}
			c.Start(m)
			info, err := m.Node.ReadIndex(ctxTimeout(t, 5*time.Second), consistency.Stale)
			if err != nil {
				t.Fatal(err)
			}
			if info.Index < served {
				t.Fatalf("after a crash the node served a Stale read at %d, below the %v read it served at %d", info.Index, tt.level, served)
			}
		})
	}
}
