package raftsync

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/appliedrecord"
	"github.com/raftkit/raftkit/snapshot"
)

// replayBatch is how many log entries recovery hands the FSM at once.
const replayBatch = 512

// bridgeMax is the longest gap between what the application holds and the
// newest snapshot that recovery replays from the log instead of restoring
// the snapshot (planRecovery). A durable FSM records its index with each
// batch it applies, so the gap is normally the few entries it never sees
// (the no-op a new leader appends, configuration entries, barriers),
// which should not cost a restore of the whole state; a longer gap (a
// database rolled back) is restored as before.
const bridgeMax = 64

// recovery reports what local recovery did.
type recovery struct {
	snapshotIndex uint64 // index of the snapshot restored (or skipped for a durable FSM)
	durable       uint64 // the durable FSM's index, 0 for other FSMs
	persisted     uint64 // the persisted index trusted from the record, 0 when none or untrusted
	replayed      uint64 // log entries re-applied from the local log
	took          time.Duration
}

// recoveryInput is what local recovery decides from, read from the Dir
// before anything is restored.
type recoveryInput struct {
	newestSnapshot uint64 // index of the newest local snapshot, 0 when none
	firstLog       uint64 // the log's first index, 0 when empty
	lastLog        uint64 // the log's last index
	// logHoldsSnapshot: the log holds the newest snapshot's last entry,
	// with the snapshot's term, so by raft's log matching property its
	// entries up to there are the ones the snapshot covers.
	logHoldsSnapshot bool
	persisted        uint64 // the persisted index trusted from the record (trustRecord), or 0
	durable          bool   // the application is a DurableFSM
	durableIndex     uint64 // its DurableIndex
}

// recoveryPlan is what local recovery does before raft starts.
type recoveryPlan struct {
	// base is the index the application holds without a restore: the
	// durable FSM's index, else 0.
	base uint64
	// restore: restore the newest local snapshot that verifies; the
	// application then holds max(base, its index).
	restore bool
	// target is the least the application must hold before raft starts:
	// the trusted persisted index, and at least the newest snapshot,
	// which raft will believe applied even when an older snapshot stands
	// in for it. The log is replayed from what the application holds up
	// to target.
	target uint64
	// delivered is where raft's first delivery after start follows on
	// (its newest snapshot).
	delivered uint64
}

// errDurableAhead: the durable FSM holds an index this Dir never had.
var errDurableAhead = errors.New("raftsync: the durable FSM's data does not belong to this Dir")

// planRecovery decides local recovery. Entries up to the persisted index
// are known committed: the node applied them before it went down, and raft
// never applies what is not committed. A durable FSM that holds at least
// the newest snapshot keeps its state; otherwise the snapshot is restored,
// unless the log bridges the gap: it holds every entry after what the
// application holds up to the snapshot's (committed: the snapshot covers
// them), the snapshot's last entry with the snapshot's term, and the gap
// is at most bridgeMax entries. Those entries are then replayed instead.
// A durable FSM ahead of both the log and every snapshot is refused
// (errDurableAhead): its data belongs to another Dir.
func planRecovery(in recoveryInput) (recoveryPlan, error) {
	var p recoveryPlan
	if in.durable {
		if in.durableIndex > in.lastLog && in.durableIndex > in.newestSnapshot {
			return p, fmt.Errorf("%w: it holds index %d, beyond this node's log (%d) and snapshots", errDurableAhead, in.durableIndex, in.lastLog)
		}
		p.base = in.durableIndex
	}
	p.target = max(in.persisted, in.newestSnapshot)
	p.restore = in.newestSnapshot > p.base && !logBridges(in, p.base)
	p.delivered = in.newestSnapshot
	return p, nil
}

// logBridges reports whether the log can bring an application holding
// base up to the newest snapshot by a short replay (see planRecovery).
func logBridges(in recoveryInput, base uint64) bool {
	return in.logHoldsSnapshot && in.firstLog != 0 && in.firstLog <= base+1 &&
		in.lastLog >= in.newestSnapshot && in.newestSnapshot-base <= bridgeMax
}

// trustRecord decides whether recovery may trust the applied-index record
// rec of node nodeID in cluster clusterID: it must name them, and its
// index must be covered by the newest snapshot (newestSnapshot; restart
// does not check a snapshot against the log) or be in the log (up to
// lastLog) with the record's term (logTerm: the log's term at rec.Index, 0
// when the log lacks the entry). A record that fails is ignored: the node
// then recovers only what its snapshot holds and waits for the cluster, as
// raft alone would, never trusting a record it cannot verify.
func trustRecord(rec appliedrecord.Record, nodeID, clusterID string, newestSnapshot, lastLog, logTerm uint64) error {
	if err := rec.Check(nodeID, clusterID); err != nil {
		return fmt.Errorf("a record of another node or cluster: %w", err)
	}
	switch {
	case newestSnapshot != 0 && rec.Index <= newestSnapshot:
		return nil
	case rec.Index > lastLog:
		return fmt.Errorf("record index %d is ahead of the log (last index %d)", rec.Index, lastLog)
	case logTerm == 0:
		return fmt.Errorf("record index %d is missing from the log", rec.Index)
	case logTerm != rec.Term:
		return fmt.Errorf("the log holds term %d at index %d, the record term %d", logTerm, rec.Index, rec.Term)
	}
	return nil
}

// recoveryDeps is what local recovery reads and drives, given explicitly.
type recoveryDeps struct {
	snapshots raft.SnapshotStore
	logs      raft.LogStore
	record    *recordStore
	fsm       *fsm // the wrapper recovery brings to the target
	spoolDir  string
	nodeID    string
	clusterID string
	logger    hclog.Logger
}

// recoverLocal brings the application to at least the persisted index
// using only local state, before raft starts:
//
//  1. The applied-index record is loaded and checked (trustRecord).
//  2. planRecovery decides; a snapshot to restore is verified first, and
//     an older one stands in for a corrupt newer one.
//  3. The log entries after what the application holds, up to the plan's
//     target, are applied.
//
// Raft then starts with NoSnapshotRestoreOnStart and re-delivers, once a
// leader confirms the commit index, the entries after its snapshot; the
// FSM wrapper skips those the application already holds.
func recoverLocal(d recoveryDeps) (recovery, error) {
	start := time.Now()
	var r recovery

	snaps, err := d.snapshots.List()
	if err != nil {
		return r, fmt.Errorf("raftsync: listing snapshots: %w", err)
	}
	var in recoveryInput
	newest := newestSnapshot(snaps)
	if newest != nil {
		in.newestSnapshot = newest.Index
	}
	in.lastLog, err = d.logs.LastIndex()
	if err != nil {
		return r, fmt.Errorf("raftsync: reading last log index: %w", err)
	}
	in.firstLog, err = d.logs.FirstIndex()
	if err != nil {
		return r, fmt.Errorf("raftsync: reading first log index: %w", err)
	}
	if newest != nil && newest.Term != 0 {
		in.logHoldsSnapshot = logTermAt(d.logs, newest.Index) == newest.Term
	}
	in.persisted = loadTrustedRecord(d, in.newestSnapshot, in.lastLog)
	r.persisted = in.persisted
	if dur, ok := d.fsm.app.(DurableFSM); ok {
		in.durable = true
		in.durableIndex, err = dur.DurableIndex()
		if err != nil {
			return r, fmt.Errorf("raftsync: reading the durable FSM's index: %w", err)
		}
		r.durable = in.durableIndex
	}
	plan, err := planRecovery(in)
	if err != nil {
		return r, err
	}
	r.snapshotIndex = in.newestSnapshot

	// held is the index the application state corresponds to, in raft's
	// numbering (the snapshot's meta index, not its header index).
	held := plan.base
	if plan.restore {
		restored, err := restoreLocalSnapshot(d, snaps)
		if err != nil {
			return r, err
		}
		held = max(held, restored)
	}
	// Entries in (held, target] are committed and present in the log.
	if plan.target > held {
		if err := replay(d, held+1, plan.target); err != nil {
			return r, err
		}
		r.replayed = plan.target - held
		held = plan.target
	}
	d.fsm.advanceApplied(held, logTermAt(d.logs, held))
	d.fsm.skipThrough.Store(held)
	if plan.delivered != 0 {
		d.fsm.delivered.Store(plan.delivered)
	}
	r.took = time.Since(start)
	return r, nil
}

// loadTrustedRecord returns the persisted index from the applied-index
// record, or 0 when there is no record or it cannot be trusted.
func loadTrustedRecord(d recoveryDeps, newestSnapshot, lastLog uint64) uint64 {
	rec, err := d.record.Load()
	switch {
	case errors.Is(err, appliedrecord.ErrNoRecord):
		return 0
	case err != nil:
		d.logger.Error("ignoring unreadable applied-index record; recovering from the snapshot only", "error", err)
		return 0
	}
	if err := trustRecord(rec, d.nodeID, d.clusterID, newestSnapshot, lastLog, logTermAt(d.logs, rec.Index)); err != nil {
		d.logger.Error("ignoring applied-index record; recovering from the snapshot only", "error", err)
		return 0
	}
	return rec.Index
}

// restoreLocalSnapshot restores the newest of snaps that verifies and
// returns its index. An older snapshot may stand in for a corrupt newer
// one: the caller then replays the log up to the newer one's index, since
// raft will believe that one applied. When none verifies, the start fails.
func restoreLocalSnapshot(d recoveryDeps, snaps []*raft.SnapshotMeta) (uint64, error) {
	byAge := slices.Clone(snaps)
	slices.SortStableFunc(byAge, func(a, b *raft.SnapshotMeta) int { return cmp.Compare(b.Index, a.Index) })
	var errs []error
	for _, meta := range byAge {
		err := restoreOneSnapshot(d, meta)
		if err == nil {
			if len(errs) > 0 {
				d.logger.Error("restored an older snapshot in place of a corrupt one", "snapshot", meta.ID, "skipped", errors.Join(errs...))
			}
			return meta.Index, nil
		}
		errs = append(errs, err)
	}
	return 0, fmt.Errorf("raftsync: no usable snapshot: %w", errors.Join(errs...))
}

func restoreOneSnapshot(d recoveryDeps, meta *raft.SnapshotMeta) error {
	_, rc, err := d.snapshots.Open(meta.ID)
	if err != nil {
		return fmt.Errorf("opening snapshot %s: %w", meta.ID, err)
	}
	defer rc.Close()
	h, payload, err := snapshot.Verify(rc, d.spoolDir)
	if err != nil {
		return fmt.Errorf("snapshot %s is corrupt: %w", meta.ID, err)
	}
	if err := d.fsm.restoreVerified(h, payload, meta.Index, meta.Term); err != nil {
		return fmt.Errorf("restoring snapshot %s: %w", meta.ID, err)
	}
	return nil
}

// replay applies log entries [from, to] through the FSM wrapper, in
// batches, exactly as raft would deliver them.
func replay(d recoveryDeps, from, to uint64) error {
	batch := make([]*raft.Log, 0, replayBatch)
	flush := func() {
		if len(batch) > 0 {
			d.fsm.ApplyBatch(batch)
			batch = make([]*raft.Log, 0, replayBatch)
		}
	}
	for idx := from; idx <= to; idx++ {
		l := new(raft.Log)
		if err := d.logs.GetLog(idx, l); err != nil {
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
	d.fsm.advanceApplied(to, logTermAt(d.logs, to))
	return nil
}
