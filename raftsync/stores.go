package raftsync

import (
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/clock"
)

// Stores are the stores a node keeps its state in, as Open hands them to
// Config.WrapStores. Open builds them under Config.Dir: Log from
// Config.LogStore (default: raft.db), Stable in raft.db, Snapshot in
// snapshots/, Applied in the file applied-index.
type Stores struct {
	// Log holds raft's log. The node adds its own log cache above it.
	Log raft.LogStore
	// Stable holds raft's term and vote, and the node's cluster ID.
	Stable raft.StableStore
	// Snapshot holds raft's snapshots; the node restores the newest one
	// at Open and streams them to Backup.
	Snapshot raft.SnapshotStore
	// Applied holds the node's applied-index record.
	Applied AppliedIndexStore
}

// AppliedIndexStore holds a node's applied-index record: the applied
// index it had persisted, with the node and cluster it belongs to, which
// Open recovers the FSM to before raft starts (see Status.PersistedIndex).
// The record is a few dozen bytes, encoded and checksummed by the node;
// the store keeps them as they are. A record that fails its checksum is
// ignored, and the node recovers from its snapshot alone.
//
// The node calls Store from one goroutine at a time, and Load only at
// Open, before any Store.
type AppliedIndexStore interface {
	// Load returns the bytes of the last successful Store. It returns an
	// error wrapping fs.ErrNotExist when there was none.
	Load() ([]byte, error)
	// Store replaces the record with b, atomically and durably: after a
	// crash at any moment Load returns the old bytes or b, never a mix.
	Store(b []byte) error
}

// LogStoreFactory opens the store of a node's raft log, for
// Config.LogStore. When Config.LogStore is nil the log goes into raft.db,
// a bbolt file in hashicorp/raft-boltdb's format shared with the stable
// store, under the name "bolt". Package walstore provides a factory for hashicorp/raft-wal.
type LogStoreFactory interface {
	// Name identifies the kind of store, and the directory under
	// Config.Dir where it keeps its files. Open records it in raft.db the
	// first time it opens a Dir, and refuses, with a *ConfigError naming
	// LogStore and before writing anything, to open that Dir with a
	// factory of another name (nil being "bolt"): the other store would
	// see an empty log under a non-zero term. It must be 1 to 32 lower-case
	// letters, digits and dashes, starting with a letter, and none of
	// "bolt", "snapshots", "tmp" and "applied-index".
	Name() string
	// Open opens, or creates when it is absent or empty, the log store in
	// dir (Config.Dir joined with Name). logger is the node's, named for
	// the store. When the store it returns implements io.Closer, the
	// node closes it after raft has stopped, at Close or when Open fails.
	// On error Open must leave nothing open.
	Open(dir string, logger hclog.Logger) (raft.LogStore, error)
}

// Clock is the time source of the node's own timing, for Config.Clock:
// the lease, readiness (how long without a leader), the persistence
// throttle and the change window read it. raft's timers and the time a
// follower measures its promises to a leader on are not taken from it.
type Clock interface {
	// Now returns the current time. The node only subtracts times it got
	// from Now, so a clock that carries a monotonic reading (as
	// time.Now does) is immune to wall-clock steps.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed and
	// returns a Timer that can cancel the call, as time.AfterFunc does.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a call scheduled by Clock.AfterFunc. *time.Timer is one.
type Timer interface {
	// Stop cancels the call; it reports whether it did so before the
	// call ran.
	Stop() bool
}

// nodeClock returns the clock the node's components read: c, or the
// system clock when c is nil.
func nodeClock(c Clock) clock.Clock {
	if c == nil {
		return clock.Real{}
	}
	return userClock{c}
}

// userClock is a Config.Clock as the node's components take it.
type userClock struct{ c Clock }

func (u userClock) Now() time.Time { return u.c.Now() }

func (u userClock) AfterFunc(d time.Duration, f func()) clock.Timer { return u.c.AfterFunc(d, f) }
