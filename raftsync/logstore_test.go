package raftsync_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/walstore"
)

// logStores are the log stores the restart and recovery tests run on.
var logStores = []struct {
	name    string
	factory raftsync.LogStoreFactory
}{
	{"bolt", nil},
	{"wal", walstore.Factory{}},
}

// openWithLogStore opens m's Dir alone with the given log store.
func openWithLogStore(t *testing.T, m *testcluster.Member, logs raftsync.LogStoreFactory) (*raftsync.Node, error) {
	t.Helper()
	cfg := raftsync.Config{
		ID: m.ID, Dir: m.Dir, Addr: "127.0.0.1:0", LogStore: logs,
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
		created, other raftsync.LogStoreFactory
	}{
		{"bolt Dir opened with the WAL", nil, walstore.Factory{}},
		{"WAL Dir opened with bolt", walstore.Factory{}, nil},
		{"WAL Dir opened with another factory", walstore.Factory{}, memFactory("mem")},
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
			walDir := filepath.Join(m.Dir, walstore.Name)
			_, statErr := os.Stat(walDir)
			hadWAL := statErr == nil
			if hadWAL != (tc.created != nil) {
				t.Fatalf("after a node with LogStore %v, %s exists: %v", tc.created, walDir, hadWAL)
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

// TestUnrecordedDirIsRefused: a Dir whose raft.db holds raft state but no
// record of its log store, or whose wal/ holds files the record does not
// account for, was not written by this version: no log store may open it,
// since none can tell where its log is.
func TestUnrecordedDirIsRefused(t *testing.T) {
	t.Run("raft state in raft.db", func(t *testing.T) {
		c := testcluster.New(t, 1, testcluster.Options{})
		m := c.Members[0]
		mustApply(t, m, testcluster.Set("k", "v"))
		c.Stop(m)
		if err := raftsync.DropLogStoreRecord(m.Dir); err != nil {
			t.Fatal(err)
		}
		for _, ls := range logStores {
			n, err := openWithLogStore(t, m, ls.factory)
			wantLogStoreError(t, n, err)
		}
	})
	t.Run("files in wal/", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "n1")
		if err := os.MkdirAll(filepath.Join(dir, walstore.Name), 0o700); err != nil {
			t.Fatal(err)
		}
		stray := filepath.Join(dir, walstore.Name, "00000000000000000001-0000000000000001.wal")
		if err := os.WriteFile(stray, []byte("not ours"), 0o600); err != nil {
			t.Fatal(err)
		}
		m := &testcluster.Member{ID: "n1", Dir: dir}
		n, err := openWithLogStore(t, m, walstore.Factory{})
		wantLogStoreError(t, n, err)
		if b, err := os.ReadFile(stray); err != nil || string(b) != "not ours" {
			t.Fatalf("the refused Open changed %s: %q, %v", stray, b, err)
		}
	})
}

// memFactory is a LogStoreFactory of in-memory logs, named by its value.
type memFactory string

func (f memFactory) Name() string { return string(f) }

func (memFactory) Open(string, hclog.Logger) (raft.LogStore, error) { return raft.NewInmemStore(), nil }

func TestBadLogStoreNameRefusedBeforeTouchingDir(t *testing.T) {
	for _, name := range []string{"", "bolt", "snapshots", "tmp", "applied-index", "Wal", "1wal", "a/b", "..", "wal.d", strings.Repeat("a", 33)} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "n1")
			cfg := raftsync.Config{ID: "n1", Dir: dir, Addr: "127.0.0.1:0", Bootstrap: true, LogStore: memFactory(name)}
			n, err := raftsync.Open(ctxTimeout(t, 5*time.Second), cfg, testcluster.NewKV())
			wantLogStoreError(t, n, err)
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("Open with a bad log store name created or touched %s: %v", dir, err)
			}
		})
	}
}
