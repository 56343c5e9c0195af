package durablekv_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/goleak"

	"github.com/raftkit/raftkit/examples/durablekv"
	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// durableCluster starts n members whose FSM is a durablekv.Store kept
// beside each member's Dir, and closes the stores at the end.
type durableCluster struct {
	*testcluster.Cluster
	mu     sync.Mutex
	stores map[int]*durablekv.Store
	base   string
}

func newDurableCluster(t *testing.T, n int, configure func(int, *raftsync.Config)) *durableCluster {
	t.Helper()
	base := t.TempDir()
	dc := &durableCluster{stores: map[int]*durablekv.Store{}, base: base}
	t.Cleanup(func() {
		dc.mu.Lock()
		defer dc.mu.Unlock()
		for _, s := range dc.stores {
			s.Close()
		}
	})
	dc.Cluster = testcluster.New(t, n, testcluster.Options{
		Configure: configure,
		NewFSM: func(i int) raft.FSM {
			dc.mu.Lock()
			defer dc.mu.Unlock()
			if old := dc.stores[i]; old != nil {
				old.Close() // the node using it was stopped
			}
			s, err := durablekv.Open(filepath.Join(base, fmt.Sprintf("kv%d.db", i)))
			if err != nil {
				t.Fatal(err)
			}
			dc.stores[i] = s
			return s
		},
	})
	return dc
}

func (dc *durableCluster) store(m *testcluster.Member) *durablekv.Store {
	return m.FSM.(*durablekv.Store)
}

func (dc *durableCluster) dbPath(m *testcluster.Member) string {
	return filepath.Join(dc.base, fmt.Sprintf("kv%d.db", m.Index))
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func applyN(t *testing.T, node *raftsync.Node, prefix string, n, writers int) uint64 {
	t.Helper()
	var next atomic.Int64
	var last atomic.Uint64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				res, err := node.Apply(ctxT(t, 30*time.Second), durablekv.SetCommand(fmt.Sprintf("%s-%07d", prefix, i), []byte("v")))
				if err != nil {
					errs <- err
					return
				}
				for {
					cur := last.Load()
					if res.Index <= cur || last.CompareAndSwap(cur, res.Index) {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("apply: %v", err)
	}
	return last.Load()
}

func TestDurableRestartReappliesNothing(t *testing.T) {
	entries := 100_000
	if testing.Short() {
		entries = 10_000
	}
	dc := newDurableCluster(t, 1, func(_ int, cfg *raftsync.Config) {
		cfg.Snapshot.Threshold = 1 << 30 // no snapshot: the whole history is in the log
		cfg.Snapshot.Interval = time.Hour
		cfg.Snapshot.TrailingLogs = 1 << 30
		cfg.Snapshot.Retain = 1
	})
	m := dc.Members[0]
	last := applyN(t, m.Node, "k", entries, 128)
	dc.Stop(m)

	dc.Start(m)
	s := dc.store(m)
	if st := m.Node.Readiness(); st.State != readiness.Recovered || st.Applied < last {
		t.Fatalf("after Open: %v applied %d, want Recovered at ≥ %d", st.State, st.Applied, last)
	}
	if got := s.Applied(); got != 0 {
		t.Fatalf("durable FSM re-applied %d entries at restart, want 0", got)
	}
	dc.WaitReady(m)
	res, err := m.Node.Apply(ctxT(t, 10*time.Second), durablekv.SetCommand("after", []byte("restart")))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Node.WaitIndex(ctxT(t, 30*time.Second), res.Index); err != nil {
		t.Fatal(err)
	}
	if got := s.Applied(); got != 1 {
		t.Fatalf("durable FSM applied %d entries after restart and one write, want 1 (raft's re-delivery must be skipped)", got)
	}
	all, err := s.All()
	if err != nil || len(all) != entries+1 {
		t.Fatalf("store holds %d keys (%v), want %d", len(all), err, entries+1)
	}
}

// TestDurableBehindSnapshotRestoresSnapshotThenTail rolls a follower's
// database file back to an older copy, behind its latest snapshot: the node
// must restore the snapshot and apply the tail, and end byte for byte equal
// to the leader.
func TestDurableBehindSnapshotRestoresSnapshotThenTail(t *testing.T) {
	dc := newDurableCluster(t, 3, nil)
	leader := dc.Leader()
	var f *testcluster.Member
	for _, m := range dc.Members {
		if m != leader {
			f = m
			break
		}
	}
	applyN(t, leader.Node, "a", 100, 8)
	dbFile := func() string { return dc.dbPath(f) }
	// An old copy of the follower's database, taken while it is stopped.
	dc.Stop(f)
	old, err := os.ReadFile(dbFile())
	if err != nil {
		t.Fatal(err)
	}
	dc.Start(f)
	dc.WaitReady(f)
	applyN(t, leader.Node, "b", 200, 8)
	mid := applyN(t, leader.Node, "c", 10, 2)
	if err := f.Node.WaitIndex(ctxT(t, 10*time.Second), mid); err != nil {
		t.Fatal(err)
	}
	if err := f.Node.Raft().Snapshot().Error(); err != nil {
		t.Fatalf("snapshot on follower: %v", err)
	}
	last := applyN(t, leader.Node, "d", 50, 4)
	if err := f.Node.WaitIndex(ctxT(t, 10*time.Second), last); err != nil {
		t.Fatal(err)
	}
	dc.Stop(f)
	if err := os.WriteFile(dbFile(), old, 0o600); err != nil {
		t.Fatal(err)
	}
	dc.Start(f)
	if got := dc.store(f).Applied(); got == 0 || got > 60 {
		t.Fatalf("after restoring the snapshot the node applied %d tail entries, want the ~50 after the snapshot", got)
	}
	dc.WaitReady(f)
	if err := f.Node.WaitIndex(ctxT(t, 10*time.Second), last); err != nil {
		t.Fatal(err)
	}
	want, _ := dc.store(leader).All()
	got, _ := dc.store(f).All()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rolled-back follower holds %d keys, leader %d", len(got), len(want))
	}
}

func TestValidateSnapshotRefusesForeignPayload(t *testing.T) {
	s, err := durablekv.Open(filepath.Join(t.TempDir(), "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.ValidateSnapshot(io.LimitReader(zeroReader{}, 4096)); err == nil {
		t.Fatal("ValidateSnapshot accepted 4 KiB of zeros")
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
