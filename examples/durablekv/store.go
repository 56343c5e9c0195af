package durablekv

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"github.com/raftkit/raftkit/raftsync"
)

var (
	bucketData = []byte("data")
	bucketMeta = []byte("meta")
	keyIndex   = []byte("applied_index")
)

// Store is a durable FSM that refuses foreign backups.
var (
	_ raftsync.DurableFSM        = (*Store)(nil)
	_ raftsync.SnapshotValidator = (*Store)(nil)
	_ raft.BatchingFSM           = (*Store)(nil)
)

// ErrBadCommand is the Apply response for a command Store cannot decode.
var ErrBadCommand = errors.New("durablekv: bad command")

// ErrNotStore is returned by ValidateSnapshot and RestoreAt for a payload
// that is not a durablekv database.
var ErrNotStore = errors.New("durablekv: snapshot is not a durablekv database")

// Command is one change. Encode it with SetCommand or DeleteCommand.
type Command struct {
	Op    string `json:"op"` // "set" or "delete"
	Key   string `json:"key"`
	Value []byte `json:"value,omitempty"`
}

// SetCommand encodes a command that sets key to value.
func SetCommand(key string, value []byte) []byte {
	b, _ := json.Marshal(Command{Op: "set", Key: key, Value: value})
	return b
}

// DeleteCommand encodes a command that deletes key.
func DeleteCommand(key string) []byte {
	b, _ := json.Marshal(Command{Op: "delete", Key: key})
	return b
}

// Store is the durable FSM. It is safe for concurrent use: raft applies
// while readers call Get.
type Store struct {
	path string

	mu sync.RWMutex // guards db against the swap in RestoreAt
	db *bolt.DB

	applied atomic.Uint64 // entries applied since Open, for tests and metrics
}

// Open opens (or creates) the store at path.
func Open(path string) (*Store, error) {
	db, err := openDB(path)
	if err != nil {
		return nil, err
	}
	return &Store{path: path, db: db}, nil
}

func openDB(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("durablekv: opening %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketData); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(bucketMeta)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("durablekv: initialising %s: %w", path, err)
	}
	return db, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Close()
}

// Get returns the value of key.
func (s *Store) Get(key string) ([]byte, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var v []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketData).Get([]byte(key)); b != nil {
			v = append([]byte(nil), b...)
		}
		return nil
	})
	return v, v != nil, err
}

// All returns every key and value, for comparing nodes in tests.
func (s *Store) All() (map[string]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketData).ForEach(func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	return out, err
}

// Applied returns how many log entries this Store applied since Open.
func (s *Store) Applied() uint64 { return s.applied.Load() }

// DurableIndex is part of raftsync.DurableFSM.
func (s *Store) DurableIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var idx uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		idx = readIndex(tx)
		return nil
	})
	return idx, err
}

func readIndex(tx *bolt.Tx) uint64 {
	if v := tx.Bucket(bucketMeta).Get(keyIndex); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func writeIndex(tx *bolt.Tx, idx uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], idx)
	return tx.Bucket(bucketMeta).Put(keyIndex, b[:])
}

// Apply is part of raft.FSM.
func (s *Store) Apply(l *raft.Log) interface{} { return s.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch is part of raft.BatchingFSM: the whole batch, and its last
// index, in one transaction.
func (s *Store) ApplyBatch(logs []*raft.Log) []interface{} {
	out := make([]interface{}, len(logs))
	if len(logs) == 0 {
		return out
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	err := s.db.Update(func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketData)
		for i, l := range logs {
			if l.Type != raft.LogCommand {
				continue // configuration entries change no data
			}
			var c Command
			if err := json.Unmarshal(l.Data, &c); err != nil {
				out[i] = fmt.Errorf("%w: %v", ErrBadCommand, err)
				continue
			}
			var err error
			switch c.Op {
			case "set":
				err = data.Put([]byte(c.Key), c.Value)
			case "delete":
				err = data.Delete([]byte(c.Key))
			default:
				out[i] = fmt.Errorf("%w: unknown op %q", ErrBadCommand, c.Op)
			}
			if err != nil {
				out[i] = fmt.Errorf("%w: %v", ErrBadCommand, err)
			}
		}
		return writeIndex(tx, logs[len(logs)-1].Index)
	})
	if err != nil {
		// The transaction rolled back: nothing of the batch is stored. A
		// disk error here means this node cannot follow the log any more;
		// raft gives the FSM no way to refuse an entry, so stop loudly
		// rather than diverge silently.
		panic(fmt.Sprintf("durablekv: committing batch ending at %d: %v", logs[len(logs)-1].Index, err))
	}
	s.applied.Add(uint64(len(logs)))
	return out
}

// Snapshot is part of raft.FSM. It opens a read transaction: the copy it
// persists is the database as of this moment, while Apply goes on.
func (s *Store) Snapshot() (raft.FSMSnapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("durablekv: snapshot: %w", err)
	}
	return &snapshot{tx: tx}, nil
}

type snapshot struct{ tx *bolt.Tx }

func (sn *snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sn.tx.WriteTo(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("durablekv: writing snapshot: %w", err)
	}
	return sink.Close()
}

func (sn *snapshot) Release() { sn.tx.Rollback() }

// Restore is part of raft.FSM; raftkit calls RestoreAt instead. Used
// without raftkit it keeps the index the payload carries.
func (s *Store) Restore(rc io.ReadCloser) error { return s.restore(rc, nil) }

// RestoreAt is part of raftsync.DurableFSM: it replaces the database with
// the snapshot's and records index, atomically (new file, fsync, rename,
// fsync directory).
func (s *Store) RestoreAt(rc io.ReadCloser, index uint64) error { return s.restore(rc, &index) }

func (s *Store) restore(rc io.ReadCloser, index *uint64) error {
	defer rc.Close()
	tmp := s.path + ".restore"
	if err := writeFile(tmp, rc); err != nil {
		return err
	}
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%w: %v", ErrNotStore, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketData) == nil || tx.Bucket(bucketMeta) == nil {
			return ErrNotStore
		}
		if index != nil {
			return writeIndex(tx, *index)
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("durablekv: restore: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("durablekv: closing before restore: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("durablekv: restore: %w", err)
	}
	syncDir(filepath.Dir(s.path))
	s.db, err = openDB(s.path)
	return err
}

// ValidateSnapshot is part of raftsync.SnapshotValidator: it refuses a
// payload that is not a durablekv database before raft is asked to restore
// it.
func (s *Store) ValidateSnapshot(payload io.Reader) error {
	tmp, err := os.CreateTemp(filepath.Dir(s.path), "validate-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	tmp.Close()
	defer os.Remove(name)
	if err := writeFile(name, payload); err != nil {
		return err
	}
	db, err := bolt.Open(name, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotStore, err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketData) == nil || tx.Bucket(bucketMeta) == nil {
			return ErrNotStore
		}
		return nil
	})
}

func writeFile(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("durablekv: %w", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("durablekv: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("durablekv: syncing %s: %w", path, err)
	}
	return f.Close()
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
