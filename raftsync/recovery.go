package raftsync

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/appliedrecord"
	"github.com/raftkit/raftkit/snapshot"
)

// replayBatch is how many log entries recovery hands the FSM at once.
const replayBatch = 512

// recovery reports what local recovery did.
type recovery struct {
	snapshotIndex uint64 // index of the snapshot restored (or skipped for a durable FSM)
	durable       uint64 // the durable FSM's index, 0 for other FSMs
	persisted     uint64 // P as trusted from the record, 0 when none or untrusted
	replayed      uint64 // log entries re-applied from the local log
	took          time.Duration
}

// recover brings the application FSM to A ≥ P using only local state, before
// raft starts. Entries up to P are known committed: the node applied them
// before it went down, and raft never applies what is not committed.
//
//  1. The record P is loaded and checked (checksum, node and cluster
//     identity, and that the log holds an entry of the recorded term at P).
//     A record that fails a check is reported and ignored: the node then
//     recovers only what its snapshot holds and waits for the cluster, as
//     raft alone would — never trusting a record it cannot verify.
//  2. A durable FSM that holds at least the latest snapshot keeps its state;
//     otherwise the latest snapshot is verified and restored.
//  3. The log entries after that point, up to P, are applied.
//
// Raft then starts with NoSnapshotRestoreOnStart and re-delivers, once a
// leader confirms the commit index, the entries after its snapshot; the
// FSM wrapper skips those the application already holds.
func (n *Node) recover() (recovery, error) {
	start := time.Now()
	var r recovery

	snaps, err := n.store.snapshots.List()
	if err != nil {
		return r, fmt.Errorf("raftsync: listing snapshots: %w", err)
	}
	var latest *raft.SnapshotMeta
	if len(snaps) > 0 {
		latest = snaps[0]
	}
	lastLog, err := n.store.logs.LastIndex()
	if err != nil {
		return r, fmt.Errorf("raftsync: reading last log index: %w", err)
	}
	r.persisted = n.loadTrustedRecord(latest, lastLog)

	// base is the index the application state corresponds to, in raft's
	// numbering (the snapshot's meta index, not its header index).
	var base uint64
	if d, ok := n.fsm.app.(DurableFSM); ok {
		r.durable, err = d.DurableIndex()
		if err != nil {
			return r, fmt.Errorf("raftsync: reading the durable FSM's index: %w", err)
		}
		if r.durable > lastLog && (latest == nil || r.durable > latest.Index) {
			return r, fmt.Errorf("raftsync: the durable FSM holds index %d, beyond this node's log (%d) and snapshots: its data does not belong to this Dir", r.durable, lastLog)
		}
		base = r.durable
	}
	// target: the application must hold at least this much before raft
	// starts. raft will believe the newest snapshot applied, so that is
	// the floor even when an older snapshot has to stand in for it.
	target := r.persisted
	if latest != nil {
		r.snapshotIndex = latest.Index
		target = max(target, latest.Index)
		if latest.Index > base {
			restored, err := n.restoreLocalSnapshot(snaps)
			if err != nil {
				return r, err
			}
			base = max(base, restored)
		}
	}
	// Entries in (base, target] are committed and present in the log.
	if target > base {
		if err := n.replay(base+1, target); err != nil {
			return r, err
		}
		r.replayed = target - base
	}
	held := max(base, target)
	n.fsm.advanceApplied(held, n.persist.logTerm(held))
	n.fsm.skipThrough.Store(held)
	// raft's first delivery after start follows its latest snapshot.
	if latest != nil {
		n.fsm.delivered.Store(latest.Index)
	}
	r.took = time.Since(start)
	return r, nil
}

// loadTrustedRecord returns P from the applied-index record, or 0 when
// there is no record or it cannot be trusted.
func (n *Node) loadTrustedRecord(latest *raft.SnapshotMeta, lastLog uint64) uint64 {
	rec, err := n.persist.file.Load()
	switch {
	case errors.Is(err, appliedrecord.ErrNoRecord):
		return 0
	case err != nil:
		n.logger.Error("ignoring unreadable applied-index record; recovering from the snapshot only", "error", err)
		return 0
	}
	if err := rec.Check(n.cfg.ID, n.ClusterID()); err != nil {
		n.logger.Error("ignoring applied-index record of another node or cluster", "error", err)
		return 0
	}
	if latest != nil && rec.Index <= latest.Index {
		return rec.Index // covered by the snapshot; nothing to check in the log
	}
	if rec.Index > lastLog {
		n.logger.Error("ignoring applied-index record ahead of the log", "record_index", rec.Index, "last_log_index", lastLog)
		return 0
	}
	var l raft.Log
	if err := n.store.logs.GetLog(rec.Index, &l); err != nil {
		n.logger.Error("ignoring applied-index record: its entry is missing from the log", "record_index", rec.Index, "error", err)
		return 0
	}
	if l.Term != rec.Term {
		n.logger.Error("ignoring applied-index record: the log holds another term at its index",
			"record_index", rec.Index, "record_term", rec.Term, "log_term", l.Term)
		return 0
	}
	return rec.Index
}

// restoreLocalSnapshot restores the newest of snaps that verifies and
// returns its index. An older snapshot may stand in for a corrupt newer
// one: the caller then replays the log up to the newer one's index, since
// raft will believe that one applied. When none verifies, the start fails.
func (n *Node) restoreLocalSnapshot(snaps []*raft.SnapshotMeta) (uint64, error) {
	var errs []error
	for _, meta := range snaps {
		err := n.restoreOneSnapshot(meta)
		if err == nil {
			if len(errs) > 0 {
				n.logger.Error("restored an older snapshot in place of a corrupt one", "snapshot", meta.ID, "skipped", errors.Join(errs...))
			}
			return meta.Index, nil
		}
		errs = append(errs, err)
	}
	return 0, fmt.Errorf("raftsync: no usable snapshot: %w", errors.Join(errs...))
}

func (n *Node) restoreOneSnapshot(meta *raft.SnapshotMeta) error {
	_, rc, err := n.store.snapshots.Open(meta.ID)
	if err != nil {
		return fmt.Errorf("opening snapshot %s: %w", meta.ID, err)
	}
	defer rc.Close()
	h, payload, err := snapshot.Verify(rc, n.store.spoolDir)
	if err != nil {
		return fmt.Errorf("snapshot %s is corrupt: %w", meta.ID, err)
	}
	if err := n.fsm.restoreVerified(h, payload, meta.Index, meta.Term); err != nil {
		return fmt.Errorf("restoring snapshot %s: %w", meta.ID, err)
	}
	return nil
}

// replay applies log entries [from, to] through the FSM wrapper, in
// batches, exactly as raft would deliver them.
func (n *Node) replay(from, to uint64) error {
	batch := make([]*raft.Log, 0, replayBatch)
	flush := func() {
		if len(batch) > 0 {
			n.fsm.ApplyBatch(batch)
			batch = make([]*raft.Log, 0, replayBatch)
		}
	}
	for idx := from; idx <= to; idx++ {
		l := new(raft.Log)
		if err := n.store.logs.GetLog(idx, l); err != nil {
			return fmt.Errorf("raftsync: replaying index %d of %d..%d: %w", idx, from, to, err)
		}
		switch l.Type {
		case raft.LogCommand, raft.LogConfiguration:
			batch = append(batch, l)
		}
		if len(batch) == replayBatch {
			flush()
		}
	}
	flush()
	// Trailing entries the FSM never sees (no-ops, barriers) are applied
	// too, in the sense that matters: nothing more is to be done for them.
	n.fsm.advanceApplied(to, n.persist.logTerm(to))
	return nil
}
