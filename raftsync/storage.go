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
)

// Files under Config.Dir.
const (
	lockFileName   = "LOCK"
	raftDBFileName = "raft.db"
	recordFileName = "applied-index"
	spoolDirName   = "tmp"
	// logCacheSize keeps the most recent entries in memory so that
	// replication and the FSM read them without touching bolt.
	logCacheSize = 1024
)

// stableKeyClusterID is where the node keeps its cluster's identity in the
// raft stable store, next to raft's own currentTerm and lastVote.
var stableKeyClusterID = []byte("raftkit.cluster_id")

// storage is the node's on-disk state, opened as a unit and closed in
// reverse order.
type storage struct {
	lock      *os.File
	bolt      *raftboltdb.BoltStore
	logs      raft.LogStore // bolt behind a LogCache
	stable    raft.StableStore
	snapshots *snapshotStore
	spoolDir  string
}

// openStorage creates Dir if needed, takes the directory lock and opens the
// stores. On error everything it opened is closed again.
func openStorage(dir string, retain int, logger hclog.Logger) (_ *storage, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, &ConfigError{Field: "Dir", Reason: err.Error()}
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
	// Spooled snapshot files left by a crash are garbage.
	if err := os.RemoveAll(s.spoolDir); err != nil {
		return nil, fmt.Errorf("raftsync: clearing %s: %w", s.spoolDir, err)
	}
	if err := os.MkdirAll(s.spoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("raftsync: creating %s: %w", s.spoolDir, err)
	}
	s.bolt, err = raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(dir, raftDBFileName),
		BoltOptions: &bolt.Options{Timeout: time.Second},
	})
	if err != nil {
		return nil, fmt.Errorf("raftsync: opening %s: %w", raftDBFileName, err)
	}
	hooks := testhooks.For(dir)
	s.stable = s.bolt
	var logs raft.LogStore = s.bolt
	if hooks.WrapStableStore != nil {
		s.stable = hooks.WrapStableStore(s.stable)
	}
	if hooks.WrapLogStore != nil {
		logs = hooks.WrapLogStore(logs)
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
		return nil, &ConfigError{Field: "Dir", Reason: err.Error()}
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
