package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// The buckets of raft-boltdb's format.
var (
	bucketLogs = []byte("logs")
	bucketConf = []byte("conf")
)

// ErrKeyNotFound is Get's error for a key never Set. It is raft-boltdb's
// own sentinel, so code written against raft-boltdb keeps matching it,
// and its text is the "not found" that raft looks for when a new node
// reads its term.
var ErrKeyNotFound = raftboltdb.ErrKeyNotFound

// handle encodes and decodes every entry. raft-boltdb's default writes
// time.Time through MarshalBinary (TimeNotBuiltin); go-msgpack v2 reads
// either form. A handle is safe for concurrent use once configured, and
// is never changed after this declaration.
var handle = func() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.TimeNotBuiltin = true
	return h
}()

// Options configures Open.
type Options struct {
	// Path is the bbolt file, created with mode 0600 when missing.
	Path string
	// BoltOptions are passed to bbolt.Open (nil: bbolt's defaults).
	BoltOptions *bbolt.Options
	// NoSync skips the fsync of every commit. A crash may then lose
	// entries raft was told were durable: for tests and benchmarks only.
	NoSync bool
}

// Store is a raft.LogStore and raft.StableStore. Its methods are safe for
// concurrent use; bbolt runs one writing transaction at a time.
type Store struct {
	db *bbolt.DB

	// Owned by the writing transaction (bbolt holds its writer lock from
	// Begin(true) to Commit or Rollback): the encoder and the buffer every
	// entry of one StoreLogs is encoded into. bbolt keeps the slices it is
	// given until the transaction ends, so the buffer is reused only by
	// the next call.
	enc    *codec.Encoder
	values []byte
	keys   []byte
}

var (
	_ raft.LogStore    = (*Store)(nil)
	_ raft.StableStore = (*Store)(nil)
)

// Open opens or creates the file at o.Path and its buckets. A read-only
// open (o.BoltOptions.ReadOnly) creates nothing, and its writes fail.
func Open(o Options) (*Store, error) {
	db, err := bbolt.Open(o.Path, 0o600, o.BoltOptions)
	if err != nil {
		return nil, err
	}
	db.NoSync = o.NoSync
	if o.BoltOptions == nil || !o.BoltOptions.ReadOnly {
		err = db.Update(func(tx *bbolt.Tx) error {
			for _, name := range [][]byte{bucketLogs, bucketConf} {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("boltstore: creating buckets in %s: %w", o.Path, err)
		}
	}
	var scratch []byte
	return &Store{db: db, enc: codec.NewEncoderBytes(&scratch, handle)}, nil
}

// Close closes the file. Calls after Close fail.
func (s *Store) Close() error { return s.db.Close() }

// FirstIndex returns the lowest index stored, 0 when the log is empty.
func (s *Store) FirstIndex() (uint64, error) {
	return s.edgeIndex(func(c *bbolt.Cursor) []byte { k, _ := c.First(); return k })
}

// LastIndex returns the highest index stored, 0 when the log is empty.
func (s *Store) LastIndex() (uint64, error) {
	return s.edgeIndex(func(c *bbolt.Cursor) []byte { k, _ := c.Last(); return k })
}

func (s *Store) edgeIndex(edge func(*bbolt.Cursor) []byte) (index uint64, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		logs, err := logsBucket(tx)
		if err != nil {
			return err
		}
		if k := edge(logs.Cursor()); k != nil {
			index, err = keyIndex(k)
		}
		return err
	})
	return index, err
}

// GetLog reads the entry at index into l; raft.ErrLogNotFound when there
// is none.
func (s *Store) GetLog(index uint64, l *raft.Log) error {
	var val []byte
	err := s.db.View(func(tx *bbolt.Tx) error {
		logs, err := logsBucket(tx)
		if err != nil {
			return err
		}
		var key [8]byte
		binary.BigEndian.PutUint64(key[:], index)
		if v := logs.Get(key[:]); v != nil {
			// A copy: v lives in bbolt's map only until the
			// transaction ends, and the decoded entry may share it.
			val = append([]byte(nil), v...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if val == nil {
		return raft.ErrLogNotFound
	}
	if err := codec.NewDecoderBytes(val, handle).Decode(l); err != nil {
		return fmt.Errorf("boltstore: decoding the log entry at index %d: %w", index, err)
	}
	return nil
}

// StoreLog stores one entry.
func (s *Store) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs stores logs in one transaction: all of them or, on error,
// none. An entry at an index already stored replaces it.
func (s *Store) StoreLogs(logs []*raft.Log) error {
	tx, err := s.db.Begin(true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	bucket, err := logsBucket(tx)
	if err != nil {
		return err
	}
	// From here to the end of the transaction this call owns s.enc,
	// s.keys and s.values (see Store).
	keys := s.keys[:0]
	values := s.values[:0]
	for _, l := range logs {
		keys = binary.BigEndian.AppendUint64(keys, l.Index)
		key := keys[len(keys)-8:]
		start := len(values)
		if values, err = s.appendEncoded(values, l); err != nil {
			return fmt.Errorf("boltstore: encoding the log entry at index %d: %w", l.Index, err)
		}
		// Slices taken before an append moved the buffer keep pointing at
		// the old array, which nothing writes again: bbolt's references
		// stay valid.
		if err := bucket.Put(key, values[start:len(values):len(values)]); err != nil {
			return err
		}
	}
	err = tx.Commit()
	s.keys, s.values = keys, values
	return err
}

// appendEncoded appends l's msgpack encoding to buf.
func (s *Store) appendEncoded(buf []byte, l *raft.Log) ([]byte, error) {
	out := buf[len(buf):]
	s.enc.ResetBytes(&out)
	if err := s.enc.Encode(l); err != nil {
		return buf, err
	}
	if len(out) > 0 && cap(buf)-len(buf) >= len(out) && &buf[:len(buf)+1][len(buf)] == &out[0] {
		// Encoded in place, in buf's spare capacity.
		return buf[:len(buf)+len(out)], nil
	}
	return append(buf, out...), nil
}

// DeleteRange deletes the entries from min to max, both included.
func (s *Store) DeleteRange(min, max uint64) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		logs, err := logsBucket(tx)
		if err != nil {
			return err
		}
		var from [8]byte
		binary.BigEndian.PutUint64(from[:], min)
		c := logs.Cursor()
		for k, _ := c.Seek(from[:]); k != nil; k, _ = c.Next() {
			index, err := keyIndex(k)
			if err != nil {
				return err
			}
			if index > max {
				break
			}
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// Set stores val under key in the stable state.
func (s *Store) Set(key, val []byte) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		conf, err := confBucket(tx)
		if err != nil {
			return err
		}
		return conf.Put(key, val)
	})
}

// Get returns a copy of the value under key; ErrKeyNotFound when none.
func (s *Store) Get(key []byte) (val []byte, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		conf, err := confBucket(tx)
		if err != nil {
			return err
		}
		if v := conf.Get(key); v != nil {
			val = append([]byte(nil), v...)
		}
		return nil
	})
	if err == nil && val == nil {
		err = ErrKeyNotFound
	}
	return val, err
}

// SetUint64 stores val under key as 8 big-endian bytes.
func (s *Store) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 returns the value SetUint64 stored under key; ErrKeyNotFound
// when none, an error when the value is not 8 bytes.
func (s *Store) GetUint64(key []byte) (uint64, error) {
	val, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(val) != 8 {
		return 0, fmt.Errorf("boltstore: the value under %q is %d bytes, not a uint64", key, len(val))
	}
	return binary.BigEndian.Uint64(val), nil
}

var errNoBucket = errors.New("boltstore: bucket missing (a file opened read-only that was never initialized)")

func logsBucket(tx *bbolt.Tx) (*bbolt.Bucket, error) {
	if b := tx.Bucket(bucketLogs); b != nil {
		return b, nil
	}
	return nil, fmt.Errorf("%w: %q", errNoBucket, bucketLogs)
}

func confBucket(tx *bbolt.Tx) (*bbolt.Bucket, error) {
	if b := tx.Bucket(bucketConf); b != nil {
		return b, nil
	}
	return nil, fmt.Errorf("%w: %q", errNoBucket, bucketConf)
}

// keyIndex reads a key of the logs bucket.
func keyIndex(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("boltstore: a key of %d bytes in the logs bucket, not an index", len(k))
	}
	return binary.BigEndian.Uint64(k), nil
}
