package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"github.com/raftkit/raftkit/raftsync"
)

var (
	durableData  = []byte("data")
	durableMeta  = []byte("meta")
	durableIndex = []byte("index")
)

// durableKV is the durable variant of the benchmark's KV: the same
// commands, kept in a bbolt file together with the index of the last entry
// applied, written in the same transaction (one per batch raft hands it).
// It implements raftsync.DurableFSM and raft.BatchingFSM. Entries at or
// below the stored index are skipped, which is what an application wiring
// a durable FSM to bare raft has to do itself.
type durableKV struct {
	db   *bolt.DB
	last atomic.Uint64
}

// openDurableKV opens (or creates) the store at path.
func openDurableKV(path string) (*durableKV, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("bench durable kv: %w", err)
	}
	k := &durableKV{db: db}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(durableData); err != nil {
			return err
		}
		m, err := tx.CreateBucketIfNotExists(durableMeta)
		if err != nil {
			return err
		}
		if v := m.Get(durableIndex); len(v) == 8 {
			k.last.Store(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bench durable kv: %w", err)
	}
	return k, nil
}

// Close closes the bolt file.
func (k *durableKV) Close() error { return k.db.Close() }

// DurableIndex is part of raftsync.DurableFSM.
func (k *durableKV) DurableIndex() (uint64, error) { return k.last.Load(), nil }

// Last returns the highest index applied.
func (k *durableKV) Last() uint64 { return k.last.Load() }

// Apply is part of raft.FSM.
func (k *durableKV) Apply(l *raft.Log) interface{} { return k.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch is part of raft.BatchingFSM: one bolt transaction, and so one
// commit, per batch.
func (k *durableKV) ApplyBatch(logs []*raft.Log) []interface{} {
	out := make([]interface{}, len(logs))
	held := k.last.Load()
	newLast := held
	err := k.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(durableData)
		for i, l := range logs {
			if l.Index <= held {
				continue
			}
			newLast = max(newLast, l.Index)
			if l.Type != raft.LogCommand {
				continue
			}
			key, value, err := parseSet(l.Data)
			if err != nil {
				out[i] = err
				continue
			}
			if err := b.Put(key, value); err != nil {
				return err
			}
		}
		if newLast == held {
			return nil
		}
		return tx.Bucket(durableMeta).Put(durableIndex, u64(newLast))
	})
	if err != nil {
		// A failed commit leaves the store as it was; the node cannot go
		// on applying past a hole, so this is fatal for a real
		// application. The benchmark reports it through every response.
		err = fmt.Errorf("bench durable kv: commit: %w", err)
		for i := range out {
			out[i] = err
		}
		return out
	}
	k.last.Store(newLast)
	return out
}

// Snapshot is part of raft.FSM.
func (k *durableKV) Snapshot() (raft.FSMSnapshot, error) {
	img := kvImage{Data: map[string][]byte{}}
	err := k.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(durableMeta).Get(durableIndex); len(v) == 8 {
			img.Last = binary.BigEndian.Uint64(v)
		}
		return tx.Bucket(durableData).ForEach(func(key, v []byte) error {
			img.Data[string(key)] = append([]byte(nil), v...)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bench durable kv: snapshot: %w", err)
	}
	return &kvSnapshot{img: img}, nil
}

// The durable KV is what raftsync calls a DurableFSM, and a batching FSM
// to raft; a change of either interface must break the build rather than
// quietly measure something else.
var (
	_ raftsync.DurableFSM = (*durableKV)(nil)
	_ raft.BatchingFSM    = (*durableKV)(nil)
)

// Restore is part of raft.FSM (bare raft calls it): it replaces the whole
// store in one transaction, at the index the image was taken at.
func (k *durableKV) Restore(rc io.ReadCloser) error {
	return k.restore(rc, 0, false)
}

// RestoreAt is part of raftsync.DurableFSM: it replaces the whole store
// and records index as the durable index, in one transaction.
func (k *durableKV) RestoreAt(rc io.ReadCloser, index uint64) error {
	return k.restore(rc, index, true)
}

func (k *durableKV) restore(rc io.ReadCloser, index uint64, at bool) error {
	defer rc.Close()
	var img kvImage
	if err := json.NewDecoder(rc).Decode(&img); err != nil {
		return fmt.Errorf("bench durable kv: decoding snapshot: %w", err)
	}
	if at {
		img.Last = index
	}
	err := k.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(durableData); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
			return err
		}
		b, err := tx.CreateBucket(durableData)
		if err != nil {
			return err
		}
		for key, v := range img.Data {
			if err := b.Put([]byte(key), v); err != nil {
				return err
			}
		}
		return tx.Bucket(durableMeta).Put(durableIndex, u64(img.Last))
	})
	if err != nil {
		return fmt.Errorf("bench durable kv: restore: %w", err)
	}
	k.last.Store(img.Last)
	return nil
}

// durableFileName is the durable KV's file inside a member's directory.
const durableFileName = "fsm.db"
