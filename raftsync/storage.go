package raftsync

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"github.com/raftkit/raftkit/internal/appliedrecord"
	"github.com/raftkit/raftkit/internal/boltstore"
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

// stableKeyNodeID records, in the same store, the node ID the Dir belongs
// to (Config.ID), from the Open that bootstrapped or joined on it: a Dir
// holds one member's vote and log, which are not another's.
var stableKeyNodeID = []byte("raftkit.node_id")

// stableKeyLogStore records, in raft.db itself (below any WrapStores
// wrapper), which log store holds the Dir's raft log (LogStoreFactory.Name,
// or boltLogStore). It is written when the Dir is first opened, before any
// raft state.
var stableKeyLogStore = []byte("raftkit.log_store")

// boltLogStore is the name recorded for the default log store, the one in
// raft.db.
const boltLogStore = "bolt"

// storage is the node's on-disk state, opened as a unit and closed in
// reverse order.
type storage struct {
	lock      *os.File
	bolt      *boltstore.Store
	logCloser io.Closer     // the factory's log store, when it has Close
	logs      raft.LogStore // bolt (behind a tailLog) or the factory's store, behind a LogCache
	stable    *stableGuard  // raft's stable store, sealed before bolt closes
	snapshots *snapshotStore
	applied   AppliedIndexStore
	spoolDir  string
}

// openStorage creates Dir if needed, takes the directory lock and opens the
// stores, the raft log in factory's store (nil: bolt), and passes them
// through wrap when it is set. It refuses, with a *ConfigError and before
// changing anything, a Dir whose log is in another kind of store. On error
// everything it opened is closed again.
func openStorage(dir string, factory LogStoreFactory, wrap func(Stores) Stores, retain int, logger hclog.Logger) (_ *storage, err error) {
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
	s.bolt, err = boltstore.Open(boltstore.Options{
		Path:        filepath.Join(dir, raftDBFileName),
		BoltOptions: &bolt.Options{Timeout: time.Second},
	})
	if err != nil {
		return nil, fmt.Errorf("raftsync: opening %s: %w", raftDBFileName, err)
	}
	name := boltLogStore
	if factory != nil {
		name = factory.Name()
	}
	if err := s.settleLogStore(dir, name); err != nil {
		return nil, err
	}
	// Spooled snapshot files left by a crash are garbage.
	if err := os.RemoveAll(s.spoolDir); err != nil {
		return nil, fmt.Errorf("raftsync: clearing %s: %w", s.spoolDir, err)
	}
	if err := os.MkdirAll(s.spoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("raftsync: creating %s: %w", s.spoolDir, err)
	}
	stores := Stores{
		Log:     s.bolt,
		Stable:  s.bolt,
		Applied: recordFile{appliedrecord.OpenFile(filepath.Join(dir, recordFileName))},
	}
	if factory != nil {
		logs, err := factory.Open(filepath.Join(dir, name), logger.Named(name))
		if err != nil {
			return nil, fmt.Errorf("raftsync: opening the %s log store: %w", name, err)
		}
		if logs == nil {
			return nil, &ConfigError{Field: "LogStore", Reason: "the factory's Open returned a nil store and no error"}
		}
		s.logCloser, _ = logs.(io.Closer)
		stores.Log = logs
	}
	stores.Snapshot, err = raft.NewFileSnapshotStoreWithLogger(dir, retain, logger.Named("snapshot"))
	if err != nil {
		return nil, fmt.Errorf("raftsync: snapshot store: %w", err)
	}
	if wrap != nil {
		inner := stores.Log
		stores = wrap(stores)
		if err := checkWrapped(inner, stores); err != nil {
			return nil, err
		}
	}
	s.stable = &stableGuard{StableStore: stores.Stable}
	s.applied = stores.Applied
	logs := stores.Log
	// bolt replaces entries at indexes it holds, in one transaction, so
	// raft's truncation of a conflicting tail can wait for the write of
	// the new entries (tailLog). A store that accepts no gaps (the WAL)
	// refuses such overwrites: a failed write after raft truncated it
	// still leaves raft's cached last index ahead of the log until the
	// node restarts (ROBUSTNESS.md finding 8). A wrapper from WrapStores
	// stays below, where its faults hit the store.
	if factory == nil {
		logs = newTailLog(logs)
	}
	s.logs, err = raft.NewLogCache(logCacheSize, logs)
	if err != nil {
		return nil, fmt.Errorf("raftsync: log cache: %w", err)
	}
	s.snapshots = &snapshotStore{SnapshotStore: stores.Snapshot}
	return s, nil
}

// checkWrapped refuses what Config.WrapStores returned when a store is
// missing or when the log wrapper hides that the store below accepts no
// gaps: raft would then leave a gap in it when it installs a snapshot,
// and the store would refuse every later write.
func checkWrapped(inner raft.LogStore, w Stores) error {
	switch {
	case w.Log == nil:
		return &ConfigError{Field: "WrapStores", Reason: "returned no Log store"}
	case w.Stable == nil:
		return &ConfigError{Field: "WrapStores", Reason: "returned no Stable store"}
	case w.Snapshot == nil:
		return &ConfigError{Field: "WrapStores", Reason: "returned no Snapshot store"}
	case w.Applied == nil:
		return &ConfigError{Field: "WrapStores", Reason: "returned no Applied store"}
	}
	if monotonic(inner) && !monotonic(w.Log) {
		return &ConfigError{Field: "WrapStores", Reason: "the Log wrapper hides raft.MonotonicLogStore of the store it wraps: implement IsMonotonic and return the inner store's answer"}
	}
	return nil
}

func monotonic(s raft.LogStore) bool {
	m, ok := s.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

func (s *storage) close() error {
	var errs []error
	if s.stable != nil {
		s.stable.seal()
	}
	if s.logCloser != nil {
		errs = append(errs, s.logCloser.Close())
		s.logCloser = nil
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
		if errors.Is(err, boltstore.ErrKeyNotFound) {
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

// nodeID returns the node ID the Dir is recorded for, or "" when none is.
func (s *storage) nodeID() (string, error) {
	v, err := s.stable.Get(stableKeyNodeID)
	if err != nil {
		if errors.Is(err, boltstore.ErrKeyNotFound) {
			return "", nil
		}
		return "", fmt.Errorf("raftsync: reading node id: %w", err)
	}
	return string(v), nil
}

// recordNodeID records id as the Dir's node ID unless one is recorded.
func (s *storage) recordNodeID(id string) error {
	have, err := s.nodeID()
	if err != nil || have != "" {
		return err
	}
	if err := s.stable.Set(stableKeyNodeID, []byte(id)); err != nil {
		return fmt.Errorf("raftsync: storing node id: %w", err)
	}
	return nil
}

// settleLogStore makes sure the Dir's raft log is in a store named want.
// The name recorded in the stable store decides; a Dir without a record is
// new, and want is recorded. A mismatch is a *ConfigError and writes
// nothing: opened with the wrong store, the log would look empty under a
// non-zero term, and raft would overwrite or lose what the other store
// holds. So is a Dir without a record that holds raft state in raft.db or
// files in want's directory: this library writes the record first, so
// nothing tells which store holds that Dir's log.
func (s *storage) settleLogStore(dir, want string) error {
	v, err := s.bolt.Get(stableKeyLogStore)
	if err != nil && !errors.Is(err, boltstore.ErrKeyNotFound) {
		return fmt.Errorf("raftsync: reading the log store kind: %w", err)
	}
	if have := string(v); have != "" {
		if have != want {
			return &ConfigError{Field: "LogStore", Reason: fmt.Sprintf(
				"Dir %s keeps its raft log in the %s log store, Config.LogStore is %s; the log store of a Dir cannot change", dir, have, want)}
		}
		return nil
	}
	if want != boltLogStore {
		if entries, err := os.ReadDir(filepath.Join(dir, want)); err == nil && len(entries) > 0 {
			return &ConfigError{Field: "LogStore", Reason: fmt.Sprintf(
				"Dir %s has a %s/ directory but records no log store; move it away if it holds nothing of this node's", dir, want)}
		}
	}
	old, err := raft.HasExistingState(s.bolt, s.bolt, raft.NewInmemSnapshotStore())
	if err != nil {
		return fmt.Errorf("raftsync: checking %s for raft state: %w", raftDBFileName, err)
	}
	if old {
		return &ConfigError{Field: "LogStore", Reason: fmt.Sprintf(
			"Dir %s holds raft state in %s but records no log store; it was not created by this version of raftkit", dir, raftDBFileName)}
	}
	if err := s.bolt.Set(stableKeyLogStore, []byte(want)); err != nil {
		return fmt.Errorf("raftsync: recording the log store kind: %w", err)
	}
	return nil
}
