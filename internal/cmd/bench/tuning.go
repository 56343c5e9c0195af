package main

import (
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
	"github.com/raftkit/raftkit/snapshot"
	"github.com/raftkit/raftkit/walstore"
)

// tuning is what the benchmark varies on the write path. The zero value is
// the library's defaults. The same tuning gives raftkit and bare raft the
// same raft.Config.
type tuning struct {
	// MaxAppendEntries and BatchApplyCh go to raft.Config (0 and false:
	// raftkit's defaults, raftsync.DefaultRaftConfig).
	MaxAppendEntries int
	BatchApplyCh     bool
	// LogCache is the number of recent entries raft.LogCache keeps in
	// front of the log store. raftkit's is fixed at 1024 (raftsync/storage.go), so
	// only bare raft can vary it: 0 means 1024, negative means no cache.
	LogCache int
	// NoFreelistSync sets bbolt's NoFreelistSync on the log store. raftkit
	// cannot set it (raftsync opens bolt itself), so only bare raft varies
	// it.
	NoFreelistSync bool
	// Persist is raftkit's applied-index persistence policy (zero: the
	// library's default).
	Persist readiness.PersistPolicy
	// WAL keeps the raft log in hashicorp/raft-wal instead of bolt, which
	// stays the stable store: walstore.Factory for raftkit, the same
	// store (walstore.Open) for bare raft.
	WAL bool
}

func (t tuning) String() string {
	s := fmt.Sprintf("MaxAppendEntries=%d BatchApplyCh=%v", t.maxAppend(), t.BatchApplyCh)
	if t.LogCache != 0 {
		s += fmt.Sprintf(" LogCache=%d", t.LogCache)
	}
	if t.NoFreelistSync {
		s += " NoFreelistSync"
	}
	if t.Persist != (readiness.PersistPolicy{}) {
		s += fmt.Sprintf(" Persist.EveryEntries=%d Persist.Interval=%v", t.Persist.EveryEntries, t.Persist.Interval)
	}
	if t.WAL {
		s += " LogStore=wal"
	}
	return s
}

func (t tuning) maxAppend() int {
	if t.MaxAppendEntries == 0 {
		return raftsync.DefaultRaftConfig().MaxAppendEntries
	}
	return t.MaxAppendEntries
}

// logStore is raftkit's Config.LogStore for t.
func (t tuning) logStore() raftsync.LogStoreFactory {
	if t.WAL {
		return walstore.Factory{}
	}
	return nil // bolt
}

func (t tuning) logCache() int {
	if t.LogCache == 0 {
		return 1024
	}
	return t.LogCache
}

// apply tunes rc. It is the raftsync.Config.RaftConfig hook for raftkit,
// and is applied the same way to bare raft's config.
func (t tuning) apply(rc *raft.Config) {
	if t.MaxAppendEntries != 0 {
		rc.MaxAppendEntries = t.MaxAppendEntries
	}
	rc.BatchApplyCh = t.BatchApplyCh
}

// bareRaftConfig is the raft.Config raftkit builds for a node (raftkit's
// default raft.Config and snapshot policy, the tuning), for bare raft.
// Two differences are forced by what each system is: raftkit restores the
// snapshot itself and sets NoSnapshotRestoreOnStart, which bare raft with
// an in-memory FSM must leave off; and the logger.
func bareRaftConfig(id string, t tuning, durable bool) *raft.Config {
	rc := raftsync.DefaultRaftConfig()
	snapshot.DefaultPolicy().ApplyTo(rc)
	t.apply(rc)
	rc.LocalID = raft.ServerID(id)
	rc.NoSnapshotRestoreOnStart = durable
	return rc
}

// Timeouts shared by both in-process systems.
const (
	// transportTimeout is raft's NetworkTransport I/O timeout, as raftkit
	// configures it.
	transportTimeout = 10 * time.Second
	// transportPool is the NetworkTransport's MaxPool, as raftkit.
	transportPool = 3
	// transportInFlight is the NetworkTransport's MaxRPCsInFlight, as
	// raftkit sets it (raftsync/node.go, since 9f045ab): one AppendEntries
	// in flight per follower, no pipelining.
	transportInFlight = 1
)
