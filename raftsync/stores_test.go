package raftsync_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/walstore"
)

// soloConfig is a one-node cluster's Config on dir.
func storesSoloConfig(t *testing.T, dir string) raftsync.Config {
	return raftsync.Config{
		ID: "n1", Dir: dir, Addr: "127.0.0.1:0", Bootstrap: true,
		RaftConfig: testcluster.FastRaft, Logger: testcluster.Logger(t, "n1"),
	}
}

// openSolo opens cfg and waits for the node to be Ready.
func openSolo(t *testing.T, cfg raftsync.Config) *raftsync.Node {
	t.Helper()
	n, err := raftsync.Open(ctxTimeout(t, 10*time.Second), cfg, testcluster.NewKV())
	if err != nil {
		t.Fatal(err)
	}
	if err := n.WaitReady(ctxTimeout(t, 10*time.Second)); err != nil {
		n.Close()
		t.Fatal(err)
	}
	return n
}

// counts are the writes counting wrappers saw reach each store.
type counts struct {
	wraps, logWrites, stableWrites, snapshots, records atomic.Int64
}

func (c *counts) wrap(st raftsync.Stores) raftsync.Stores {
	c.wraps.Add(1)
	return raftsync.Stores{
		Log:      &countingLog{LogStore: st.Log, n: &c.logWrites},
		Stable:   &countingStable{StableStore: st.Stable, n: &c.stableWrites},
		Snapshot: &countingSnapshots{SnapshotStore: st.Snapshot, n: &c.snapshots},
		Applied:  &countingApplied{inner: st.Applied, n: &c.records},
	}
}

type countingLog struct {
	raft.LogStore
	n *atomic.Int64
}

func (l *countingLog) StoreLog(e *raft.Log) error { return l.StoreLogs([]*raft.Log{e}) }

func (l *countingLog) StoreLogs(es []*raft.Log) error {
	l.n.Add(int64(len(es)))
	return l.LogStore.StoreLogs(es)
}

type countingStable struct {
	raft.StableStore
	n *atomic.Int64
}

func (s *countingStable) Set(k, v []byte) error { s.n.Add(1); return s.StableStore.Set(k, v) }

func (s *countingStable) SetUint64(k []byte, v uint64) error {
	s.n.Add(1)
	return s.StableStore.SetUint64(k, v)
}

type countingSnapshots struct {
	raft.SnapshotStore
	n *atomic.Int64
}

func (s *countingSnapshots) Create(version raft.SnapshotVersion, index, term uint64, conf raft.Configuration,
	confIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	s.n.Add(1)
	return s.SnapshotStore.Create(version, index, term, conf, confIndex, trans)
}

type countingApplied struct {
	inner raftsync.AppliedIndexStore
	n     *atomic.Int64
}

func (a *countingApplied) Load() ([]byte, error) { return a.inner.Load() }

func (a *countingApplied) Store(b []byte) error { a.n.Add(1); return a.inner.Store(b) }

// TestWrapStoresSeesEveryStore: the stores WrapStores returns are the ones
// the node writes through, all four of them, and it is called once per
// Open.
func TestWrapStoresSeesEveryStore(t *testing.T) {
	var c counts
	cfg := storesSoloConfig(t, t.TempDir())
	cfg.WrapStores = c.wrap
	n := openSolo(t, cfg)
	for i := 0; i < 20; i++ {
		if _, err := n.Apply(ctxTimeout(t, 5*time.Second), testcluster.Set(fmt.Sprintf("k%d", i), "v")); err != nil {
			n.Close()
			t.Fatal(err)
		}
	}
	if err := n.Raft().Snapshot().Error(); err != nil {
		n.Close()
		t.Fatal(err)
	}
	if err := n.Close(); err != nil { // writes the final applied-index record
		t.Fatal(err)
	}
	if c.wraps.Load() != 1 || c.logWrites.Load() < 20 || c.stableWrites.Load() == 0 || c.snapshots.Load() == 0 || c.records.Load() == 0 {
		t.Fatalf("wrapped %d times; through the wrappers: %d log entries, %d stable writes, %d snapshots, %d records",
			c.wraps.Load(), c.logWrites.Load(), c.stableWrites.Load(), c.snapshots.Load(), c.records.Load())
	}
	n = openSolo(t, cfg)
	defer n.Close()
	if c.wraps.Load() != 2 {
		t.Fatalf("WrapStores called %d times over two Opens", c.wraps.Load())
	}
}

// memApplied is an AppliedIndexStore in memory.
type memApplied struct {
	mu sync.Mutex
	b  []byte
}

func (m *memApplied) Load() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.b == nil {
		return nil, fmt.Errorf("memApplied: %w", fs.ErrNotExist)
	}
	return append([]byte(nil), m.b...), nil
}

func (m *memApplied) Store(b []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.b = append([]byte(nil), b...)
	return nil
}

func (m *memApplied) corrupt() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.b[len(m.b)-1] ^= 0xff
}

// TestOwnAppliedIndexStore: an application's own AppliedIndexStore
// replaces the applied-index file: the node records into it, recovers
// from it, and ignores it when its bytes are not a whole record.
func TestOwnAppliedIndexStore(t *testing.T) {
	dir := t.TempDir()
	mem := &memApplied{}
	cfg := storesSoloConfig(t, dir)
	cfg.WrapStores = func(st raftsync.Stores) raftsync.Stores { st.Applied = mem; return st }
	n := openSolo(t, cfg)
	var last uint64
	for i := 0; i < 10; i++ {
		res, err := n.Apply(ctxTimeout(t, 5*time.Second), testcluster.Set(fmt.Sprintf("k%d", i), "v"))
		if err != nil {
			n.Close()
			t.Fatal(err)
		}
		last = res.Index
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "applied-index")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the node wrote its record file although WrapStores replaced it: %v", err)
	}

	n, err := raftsync.Open(ctxTimeout(t, 10*time.Second), cfg, testcluster.NewKV())
	if err != nil {
		t.Fatal(err)
	}
	got := n.Status().PersistedIndex
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if got < last {
		t.Fatalf("recovered to the persisted index %d from the application's store, want at least %d", got, last)
	}

	mem.corrupt()
	n, err = raftsync.Open(ctxTimeout(t, 10*time.Second), cfg, testcluster.NewKV())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if got := n.Status().PersistedIndex; got != 0 {
		t.Fatalf("a corrupt record was trusted: persisted index %d", got)
	}
}

// hidingLog wraps a log store without passing raft.MonotonicLogStore on.
type hidingLog struct{ raft.LogStore }

// forwardingLog wraps a log store and passes raft.MonotonicLogStore on.
type forwardingLog struct{ raft.LogStore }

func (l forwardingLog) IsMonotonic() bool {
	m, ok := l.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

// TestWrapStoresRefusals: Open refuses, with a *ConfigError naming
// WrapStores and with nothing left open, stores a node cannot run on; a
// wrapper that keeps the WAL's no-gaps promise opens.
func TestWrapStoresRefusals(t *testing.T) {
	cases := []struct {
		name string
		logs raftsync.LogStoreFactory
		wrap func(raftsync.Stores) raftsync.Stores
		ok   bool
	}{
		{"nil Log", nil, func(st raftsync.Stores) raftsync.Stores { st.Log = nil; return st }, false},
		{"nil Stable", nil, func(st raftsync.Stores) raftsync.Stores { st.Stable = nil; return st }, false},
		{"nil Snapshot", nil, func(st raftsync.Stores) raftsync.Stores { st.Snapshot = nil; return st }, false},
		{"nil Applied", nil, func(st raftsync.Stores) raftsync.Stores { st.Applied = nil; return st }, false},
		{"WAL wrapper hides IsMonotonic", walstore.Factory{}, func(st raftsync.Stores) raftsync.Stores {
			st.Log = hidingLog{st.Log}
			return st
		}, false},
		{"WAL wrapper forwards IsMonotonic", walstore.Factory{}, func(st raftsync.Stores) raftsync.Stores {
			st.Log = forwardingLog{st.Log}
			return st
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := storesSoloConfig(t, t.TempDir())
			cfg.LogStore = tc.logs
			cfg.WrapStores = tc.wrap
			n, err := raftsync.Open(ctxTimeout(t, 10*time.Second), cfg, testcluster.NewKV())
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				n.Close()
				return
			}
			var ce *raftsync.ConfigError
			if err == nil {
				n.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.As(err, &ce) || ce.Field != "WrapStores" {
				t.Fatalf("Open = %v, want a *ConfigError naming WrapStores", err)
			}
			// Nothing stayed open: the Dir opens again.
			cfg.WrapStores = nil
			n = openSolo(t, cfg)
			n.Close()
		})
	}
}

// countingClock is the system clock, counting the node's reads.
type countingClock struct{ now, timers atomic.Int64 }

func (c *countingClock) Now() time.Time { c.now.Add(1); return time.Now() }

func (c *countingClock) AfterFunc(d time.Duration, f func()) raftsync.Timer {
	c.timers.Add(1)
	return time.AfterFunc(d, f)
}

// TestConfigClockIsTheNodesClock: the node reads Config.Clock, not the
// system clock, for its own timing.
func TestConfigClockIsTheNodesClock(t *testing.T) {
	var clk countingClock
	cfg := storesSoloConfig(t, t.TempDir())
	cfg.Clock = &clk
	n := openSolo(t, cfg)
	defer n.Close()
	if _, err := n.Apply(ctxTimeout(t, 5*time.Second), testcluster.Set("k", "v")); err != nil {
		t.Fatal(err)
	}
	if clk.now.Load() == 0 || clk.timers.Load() == 0 {
		t.Fatalf("the node read Config.Clock %d times and set %d timers on it", clk.now.Load(), clk.timers.Load())
	}
}
