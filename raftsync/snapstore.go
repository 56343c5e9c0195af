package raftsync

import (
	"fmt"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// snapshotStore is the node's snapshot store (raft's FileSnapshotStore,
// or what Config.WrapStores made of it) with the bytes of the snapshot
// being written counted, so that readiness can show how far a snapshot
// install from the leader has come while a new node joins.
type snapshotStore struct {
	raft.SnapshotStore
	writing atomic.Pointer[byteCount]
}

type byteCount struct{ n atomic.Int64 }

// Create is part of raft.SnapshotStore.
func (s *snapshotStore) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.SnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		return nil, err
	}
	c := &byteCount{}
	s.writing.Store(c)
	return &countingSink{SnapshotSink: sink, count: c, store: s}, nil
}

// progress describes a snapshot being written, or "".
func (s *snapshotStore) progress() string {
	if c := s.writing.Load(); c != nil {
		return fmt.Sprintf("receiving or writing a snapshot: %.1f MB", float64(c.n.Load())/1e6)
	}
	return ""
}

type countingSink struct {
	raft.SnapshotSink
	count *byteCount
	store *snapshotStore
}

func (c *countingSink) Write(p []byte) (int, error) {
	n, err := c.SnapshotSink.Write(p)
	c.count.n.Add(int64(n))
	return n, err
}

func (c *countingSink) Close() error {
	c.store.writing.CompareAndSwap(c.count, nil)
	return c.SnapshotSink.Close()
}

func (c *countingSink) Cancel() error {
	c.store.writing.CompareAndSwap(c.count, nil)
	return c.SnapshotSink.Cancel()
}
