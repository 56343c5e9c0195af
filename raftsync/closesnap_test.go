package raftsync_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/snapshot"
)

// TestRestartAfterCatchUpDoesNotReplayTail: a follower that caught up a
// long log and closes with a long tail after its newest snapshot (the
// snapshot trigger waits at least a second between snapshots, so a fast
// catch-up leaves one) snapshots at Close, and its next Open replays less
// than Threshold entries instead of the tail.
func TestRestartAfterCatchUpDoesNotReplayTail(t *testing.T) {
	const threshold, writes, writers = 100, 4000, 32
	c := testcluster.New(t, 3, testcluster.Options{Configure: func(_ int, cfg *raftsync.Config) {
		cfg.Snapshot = snapshot.Policy{Threshold: threshold, Interval: time.Hour, TrailingLogs: 10 * writes, Retain: 2}
	}})
	leader := c.Leader()
	f := c.Followers()[0]
	c.Stop(f)
	var wg sync.WaitGroup
	idx := make([]uint64, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range writes / writers {
				res, err := leader.Node.Apply(ctxTimeout(t, 30*time.Second), testcluster.Set(fmt.Sprintf("w%d-%d", w, i), "v"))
				if err != nil {
					t.Errorf("Apply: %v", err)
					return
				}
				idx[w] = max(idx[w], res.Index)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	last := uint64(0)
	for _, i := range idx {
		last = max(last, i)
	}
	c.Start(f)
	if err := f.Node.WaitIndex(ctxTimeout(t, 30*time.Second), last); err != nil {
		t.Fatal(err)
	}
	tail := raftsync.SnapshotTail(f.Node)
	if tail < threshold {
		t.Skipf("the catch-up left a tail of %d < Threshold %d (the trigger snapshotted it): nothing for Close to do", tail, threshold)
	}
	c.Stop(f)
	c.Start(f)
	if got := f.KV().Applied(); got >= threshold {
		t.Fatalf("replayed %d entries at the restart after a catch-up that closed with a tail of %d, want fewer than Threshold (%d)", got, tail, threshold)
	}
	if got := f.KV().Len(); got != writes {
		t.Fatalf("restarted follower holds %d keys, want %d", got, writes)
	}
	t.Logf("tail at Close %d; replayed at Open %d", tail, f.KV().Applied())
}
