package raftsync

import (
	"fmt"
	"sync"

	"github.com/hashicorp/raft"
)

// tailLog is the raft log store over a store whose StoreLogs replaces the
// entries at indexes it already holds (raft-boltdb). It makes raft's
// conflict truncation safe against a failed write.
//
// A follower whose log conflicts with the leader's calls DeleteRange on its
// tail and then StoreLogs with the leader's entries. hashicorp/raft v1.7.3
// updates its cached last index only after both succeed: when the delete
// succeeds and the store fails, raft still believes the deleted entries
// exist, every later AppendEntries fails to read them, and the follower
// never catches up until it restarts. tailLog therefore defers a deletion
// of the tail (from an index through the store's last index) and returns
// nil: the StoreLogs that begins at that index stores the new entries
// first and only then deletes the old entries beyond the last new one. If
// that StoreLogs fails, nothing was deleted, the store still holds every
// index raft believes it holds, and raft's next AppendEntries finds the
// conflict again.
//
// While a deletion is pending every other method answers as if it had
// been carried out: GetLog finds no entry at or above the deleted index,
// FirstIndex and LastIndex leave those entries out. A write that does not
// continue the log at the deleted index, or a deletion that overlaps it,
// carries the deletion out first.
type tailLog struct {
	inner raft.LogStore

	mu sync.RWMutex
	// pending is set while entries at and above from are deleted in
	// the view tailLog gives, but maybe still present in inner.
	pending bool
	from    uint64
	// raftKnows is set when raft asked for the deletion (its cached last
	// index still counts the entries); clear when tailLog itself could
	// not finish one after a successful write (raft counts them gone).
	raftKnows bool
}

func newTailLog(inner raft.LogStore) *tailLog { return &tailLog{inner: inner} }

// GetLog implements raft.LogStore.
func (l *tailLog) GetLog(index uint64, log *raft.Log) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.pending && index >= l.from {
		return raft.ErrLogNotFound
	}
	return l.inner.GetLog(index, log)
}

// FirstIndex implements raft.LogStore.
func (l *tailLog) FirstIndex() (uint64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	first, err := l.inner.FirstIndex()
	if err != nil || !l.pending {
		return first, err
	}
	if l.from <= first {
		return 0, nil // the whole log is deleted
	}
	return first, nil
}

// LastIndex implements raft.LogStore.
func (l *tailLog) LastIndex() (uint64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	last, err := l.inner.LastIndex()
	if err != nil || !l.pending || l.from > last {
		return last, err
	}
	first, err := l.inner.FirstIndex()
	if err != nil {
		return 0, err
	}
	if l.from <= first {
		return 0, nil
	}
	return l.from - 1, nil
}

// StoreLog implements raft.LogStore.
func (l *tailLog) StoreLog(log *raft.Log) error {
	return l.StoreLogs([]*raft.Log{log})
}

// StoreLogs implements raft.LogStore.
func (l *tailLog) StoreLogs(logs []*raft.Log) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.pending || len(logs) == 0 {
		return l.inner.StoreLogs(logs)
	}
	if logs[0].Index != l.from {
		if err := l.flush(); err != nil {
			return err
		}
		return l.inner.StoreLogs(logs)
	}
	if err := l.inner.StoreLogs(logs); err != nil {
		// The old entries inner still holds at the indexes the
		// write did not reach are what raft believes it holds when it
		// asked for the deletion; otherwise they stay deleted.
		if l.raftKnows {
			l.pending = false
		}
		return err
	}
	// The new entries are stored: raft counts everything above the last
	// one gone, whether or not the deletion below succeeds.
	l.pending, l.from, l.raftKnows = true, logs[len(logs)-1].Index+1, false
	// On error the deletion stays pending (the view is unchanged) and
	// the next write or overlapping deletion retries it.
	_ = l.flush()
	return nil
}

// DeleteRange implements raft.LogStore.
func (l *tailLog) DeleteRange(min, max uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending {
		switch {
		case min >= l.from:
			return nil // already deleted
		case max < l.from:
			return l.inner.DeleteRange(min, max)
		}
		if err := l.flush(); err != nil {
			return err
		}
	}
	last, err := l.inner.LastIndex()
	if err != nil {
		return fmt.Errorf("raftsync: reading the last log index: %w", err)
	}
	if min > max || max < last || min > last {
		return l.inner.DeleteRange(min, max)
	}
	l.pending, l.from, l.raftKnows = true, min, true
	return nil
}

// flush carries out the pending deletion. On error it stays pending.
func (l *tailLog) flush() error {
	last, err := l.inner.LastIndex()
	if err != nil {
		return fmt.Errorf("raftsync: reading the last log index: %w", err)
	}
	if l.from <= last {
		if err := l.inner.DeleteRange(l.from, last); err != nil {
			return err
		}
	}
	l.pending = false
	return nil
}
