package raftsync

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/raftkit/raftkit/internal/testhooks"
	"github.com/raftkit/raftkit/internal/walstore"
)

// Files under Config.Dir.
const (
	lockFileName   = "LOCK"
	raftDBFileName = "raft.db"
	walDirName     = "wal"
	recordFileName = "applied-index"
	spoolDirName   = "tmp"
	// logCacheSize keeps the most recent entries in memory so that
	// replication and the FSM read them without touching bolt.
	logCacheSize = 1024
)

// stableKeyClusterID is where the node keeps its cluster's identity in the
// raft stable store, next to raft's own currentTerm and lastVote.
var stableKeyClusterID = []byte("raftkit.cluster_id")

// stableKeyLogStore records, in the same store, which log store holds the
// Dir's raft log (LogStoreKind.String). It is written when the Dir is first
// opened, before any raft state.
var stableKeyLogStore = []byte("raftkit.log_store")

// storage is the node's on-disk state, opened as a unit and closed in
// reverse order.
type storage struct {
	lock      *os.File
	bolt      *raftboltdb.BoltStore
	wal       *walstore.Store // the log with LogStoreWAL, else nil
	logs      raft.LogStore   // bolt (behind a tailLog) or the WAL, behind a LogCache
	stable    *stableGuard    // raft's stable store, sealed before bolt closes
	snapshots *snapshotStore
	spoolDir  string
}

// openStorage creates Dir if needed, takes the directory lock and opens the
// stores, the raft log in the store of the given kind. It refuses, with a
// *ConfigError and before changing anything, a Dir whose log is in the
// other kind of store. On error everything it opened is closed again.
func openStorage(dir string, kind LogStoreKind, retain int, logger hclog.Logger) (_ *storage, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, &ConfigError{Field: "Dir", Reason: err.Error(), Err: err}
	}
	s := &storage{spoolDir: filepath.Join(dir, spoolDirName)}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	s.lock, err = lockDir(dir)
	if err != nil {
		return nil, err
	}
	s.bolt, err = raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(dir, raftDBFileName),
		BoltOptions: &bolt.Options{Timeout: time.Second},
	})
	if err != nil {
		return nil, fmt.Errorf("raftsync: opening %s: %w", raftDBFileName, err)
	}
	hooks := testhooks.For(dir)
	var stable raft.StableStore = s.bolt
	if hooks.WrapStableStore != nil {
		stable = hooks.WrapStableStore(stable)
	}
	s.stable = &stableGuard{StableStore: stable}
	if err := s.settleLogStore(dir, kind); err != nil {
		return nil, err
	}
	// Spooled snapshot files left by a crash are garbage.
	if err := os.RemoveAll(s.spoolDir); err != nil {
		return nil, fmt.Errorf("raftsync: clearing %s: %w", s.spoolDir, err)
	}
	if err := os.MkdirAll(s.spoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("raftsync: creating %s: %w", s.spoolDir, err)
	}
	var logs raft.LogStore = s.bolt
	if kind == LogStoreWAL {
		s.wal, err = walstore.Open(filepath.Join(dir, walDirName), logger.Named("wal"))
		if err != nil {
			return nil, fmt.Errorf("raftsync: %w", err)
		}
		logs = s.wal
	}
	if hooks.WrapLogStore != nil {
		logs = keepMonotonic(logs, hooks.WrapLogStore(logs))
	}
	// bolt replaces entries at indexes it holds, in one transaction, so
	// raft's truncation of a conflicting tail can wait for the write of
	// the new entries (tailLog). The WAL refuses such overwrites: a failed
	// write after raft truncated it still leaves raft's cached last index
	// ahead of the log until the node restarts (ROBUSTNESS.md finding 8).
	// A test hook's wrapper stays below, where its faults hit the store.
	if kind == LogStoreBolt {
		logs = newTailLog(logs)
	}
	s.logs, err = raft.NewLogCache(logCacheSize, logs)
	if err != nil {
		return nil, fmt.Errorf("raftsync: log cache: %w", err)
	}
	files, err := raft.NewFileSnapshotStoreWithLogger(dir, retain, logger.Named("snapshot"))
	if err != nil {
		return nil, fmt.Errorf("raftsync: snapshot store: %w", err)
	}
	s.snapshots = &snapshotStore{FileSnapshotStore: files}
	return s, nil
}

func (s *storage) close() error {
	var errs []error
	if s.stable != nil {
		s.stable.seal()
	}
	if s.wal != nil {
		errs = append(errs, s.wal.Close())
		s.wal = nil
	}
	if s.bolt != nil {
		errs = append(errs, s.bolt.Close())
		s.bolt = nil
	}
	if s.lock != nil {
		// Closing the descriptor releases the flock.
		errs = append(errs, s.lock.Close())
		s.lock = nil
	}
	return errors.Join(errs...)
}

// lockDir takes an exclusive, non-blocking flock on Dir/LOCK. The lock dies
// with the process, so a crashed node never leaves a stale lock behind.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, &ConfigError{Field: "Dir", Reason: err.Error(), Err: err}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrDirLocked, dir)
		}
		return nil, fmt.Errorf("raftsync: locking %s: %w", dir, err)
	}
	return f, nil
}

// clusterID returns the stored cluster identity, or "" when none is stored.
func (s *storage) clusterID() (string, error) {
	v, err := s.stable.Get(stableKeyClusterID)
	if err != nil {
		if errors.Is(err, raftboltdb.ErrKeyNotFound) {
			return "", nil
		}
		return "", fmt.Errorf("raftsync: reading cluster id: %w", err)
	}
	return string(v), nil
}

func (s *storage) setClusterID(id string) error {
	if err := s.stable.Set(stableKeyClusterID, []byte(id)); err != nil {
		return fmt.Errorf("raftsync: storing cluster id: %w", err)
	}
	return nil
}

// settleLogStore makes sure the Dir's raft log is in a store of kind want.
// The kind recorded in the stable store decides; a Dir without a record is
// either new (want is recorded) or was created before the record existed,
// when bolt was the only log store: if raft.db holds a term or a log entry,
// bolt is recorded. A mismatch is a *ConfigError and writes nothing: opened
// with the wrong store, the log would look empty under a non-zero term, and
// raft would overwrite or lose what the other store holds.
func (s *storage) settleLogStore(dir string, want LogStoreKind) error {
	v, err := s.stable.Get(stableKeyLogStore)
	if err != nil && !errors.Is(err, raftboltdb.ErrKeyNotFound) {
		return fmt.Errorf("raftsync: reading the log store kind: %w", err)
	}
	have := string(v)
	recorded := have != ""
	if !recorded {
		// A wal/ directory is never written before the record: one
		// without it was not made by this library, so nothing tells
		// which log is the Dir's.
		if entries, err := os.ReadDir(filepath.Join(dir, walDirName)); err == nil && len(entries) > 0 {
			return &ConfigError{Field: "LogStore", Reason: fmt.Sprintf(
				"Dir %s has a %s/ directory but records no log store kind; move it away if it holds nothing of this node's", dir, walDirName)}
		}
		old, err := raft.HasExistingState(s.bolt, s.bolt, raft.NewInmemSnapshotStore())
		if err != nil {
			return fmt.Errorf("raftsync: checking %s for raft state: %w", raftDBFileName, err)
		}
		have = want.String()
		if old {
			have = LogStoreBolt.String()
		}
	}
	switch have {
	case want.String():
	case LogStoreBolt.String(), LogStoreWAL.String():
		return &ConfigError{Field: "LogStore", Reason: fmt.Sprintf(
			"Dir %s keeps its raft log in %s, Config.LogStore is %s; the log store of a Dir cannot change", dir, have, want)}
	default:
		return fmt.Errorf("raftsync: Dir %s records an unknown log store kind %q", dir, have)
	}
	if !recorded {
		if err := s.stable.Set(stableKeyLogStore, []byte(have)); err != nil {
			return fmt.Errorf("raftsync: recording the log store kind: %w", err)
		}
	}
	return nil
}

// keepMonotonic returns wrapped, a test hook's wrapper around inner, still
// telling raft that the store accepts no gaps when inner does (the WAL):
// raft then clears the log when it installs a snapshot instead of leaving
// a gap the WAL would refuse.
func keepMonotonic(inner, wrapped raft.LogStore) raft.LogStore {
	if m, ok := inner.(raft.MonotonicLogStore); !ok || !m.IsMonotonic() {
		return wrapped
	}
	if m, ok := wrapped.(raft.MonotonicLogStore); ok && m.IsMonotonic() {
		return wrapped
	}
	return monotonicLogStore{wrapped}
}

type monotonicLogStore struct{ raft.LogStore }

func (monotonicLogStore) IsMonotonic() bool { return true }
