package raftsync_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
)

// logStoreKinds are the log stores the restart and recovery tests run on.
var logStoreKinds = []raftsync.LogStoreKind{raftsync.LogStoreBolt, raftsync.LogStoreWAL}

// openWithLogStore opens m's Dir alone with the given log store.
func openWithLogStore(t *testing.T, m *testcluster.Member, kind raftsync.LogStoreKind) (*raftsync.Node, error) {
	t.Helper()
	cfg := raftsync.Config{
		ID: m.ID, Dir: m.Dir, Addr: "127.0.0.1:0", LogStore: kind,
		RaftConfig: testcluster.FastRaft, Logger: testcluster.Logger(t, m.ID),
	}
	return raftsync.Open(ctxTimeout(t, 10*time.Second), cfg, testcluster.NewKV())
}

// wantLogStoreError asserts that err is a *ConfigError naming LogStore.
func wantLogStoreError(t *testing.T, n *raftsync.Node, err error) {
	t.Helper()
	if err == nil {
		n.Close()
		t.Fatal("Open succeeded, want a *ConfigError naming LogStore")
	}
	var ce *raftsync.ConfigError
	if !errors.As(err, &ce) || ce.Field != "LogStore" || !errors.Is(err, raftsync.ErrInvalidConfig) {
		t.Fatalf("Open = %v, want a *ConfigError naming LogStore", err)
	}
}

func TestLogStoreIsFixedForTheLifeOfTheDir(t *testing.T) {
	cases := []struct {
		name           string
		created, other raftsync.LogStoreKind
		dropRecord     bool // the Dir as written before the record existed
	}{
		{"bolt Dir opened with the WAL", raftsync.LogStoreBolt, raftsync.LogStoreWAL, false},
		{"WAL Dir opened with bolt", raftsync.LogStoreWAL, raftsync.LogStoreBolt, false},
		{"unrecorded Dir is bolt", raftsync.LogStoreBolt, raftsync.LogStoreWAL, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testcluster.New(t, 1, testcluster.Options{LogStore: tc.created})
			m := c.Members[0]
			var last uint64
			for i := 0; i < 50; i++ {
				last = mustApply(t, m, testcluster.Set(fmt.Sprintf("k%d", i), "v"))
			}
			c.Stop(m)
			if tc.dropRecord {
				if err := raftsync.DropLogStoreRecord(m.Dir); err != nil {
					t.Fatal(err)
				}
			}
			walDir := filepath.Join(m.Dir, "wal")
			_, statErr := os.Stat(walDir)
			hadWAL := statErr == nil
			if hadWAL != (tc.created == raftsync.LogStoreWAL) {
				t.Fatalf("after a %v node, %s exists: %v", tc.created, walDir, hadWAL)
			}

			n, err := openWithLogStore(t, m, tc.other)
			wantLogStoreError(t, n, err)
			if _, err := os.Stat(walDir); (err == nil) != hadWAL {
				t.Fatalf("the refused Open changed %s (exists: %v)", walDir, err == nil)
			}

			// The right kind opens the Dir with all its data, from its
			// own disk, and it takes writes again.
			c.Start(m)
			if got := m.KV().Len(); got != 50 {
				t.Fatalf("reopened with %v: %d keys recovered, want 50", tc.created, got)
			}
			c.WaitReady(m)
			if m.Node.AppliedIndex() < last {
				t.Fatalf("ready at %d < last acknowledged %d", m.Node.AppliedIndex(), last)
			}
			mustApply(t, m, testcluster.Set("after", "v"))

			// Still refused after a successful Open.
			c.Stop(m)
			n, err = openWithLogStore(t, m, tc.other)
			wantLogStoreError(t, n, err)
		})
	}
}

func TestUnknownLogStoreRefusedBeforeTouchingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n1")
	cfg := raftsync.Config{ID: "n1", Dir: dir, Addr: "127.0.0.1:0", Bootstrap: true, LogStore: raftsync.LogStoreKind(7)}
	n, err := raftsync.Open(ctxTimeout(t, 5*time.Second), cfg, testcluster.NewKV())
	wantLogStoreError(t, n, err)
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open with an unknown log store created or touched %s: %v", dir, err)
	}
}
