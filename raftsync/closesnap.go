package raftsync

import (
	"context"
	"time"
)

// closeSnapshotBudget bounds how long Close waits for the snapshot it
// takes when the log tail is long (snapshotBeforeClose).
const closeSnapshotBudget = 5 * time.Second

// closeSnapshotUnknownMax is the largest estimated state Close snapshots
// when no snapshot's cost was measured in this run.
const closeSnapshotUnknownMax = 256 << 20

// snapshotBeforeClose takes a snapshot before the node shuts down when at
// least Snapshot.Threshold applied entries follow the newest snapshot, so
// that the next Open restores that snapshot instead of replaying the tail.
// Such a tail is what a bulk catch-up leaves: the snapshot trigger paces
// itself (snapshotDutyCycle, maxTriggeredSnapshotSize) and raft's own
// timer looks only every Snapshot.Interval, so a follower that applied a
// million entries in a catch-up could close with all of them after its
// last snapshot and replay them all on its next start.
//
// Close waits at most closeSnapshotBudget for it. A snapshot raft has
// started cannot be interrupted (raft's Shutdown waits for it), so none is
// started when the latest one's work took more than half the budget, or,
// with no snapshot measured in this run, when the state is estimated over
// 256 MiB; the tail then stays for the next start to replay, as before.
func (n *Node) snapshotBeforeClose() {
	if n.raft == nil || n.fsm == nil || n.snapshots == nil || n.ctx.Err() != nil {
		return
	}
	applied := n.fsm.applied.Index()
	var newest uint64
	if metas, err := n.store.snapshots.List(); err == nil && len(metas) > 0 {
		newest = metas[0].Index
	}
	if applied < newest+n.cfg.Snapshot.Threshold {
		return
	}
	if n.fsm.delivered.Load() < n.fsm.skipThrough.Load() {
		return // the FSM refuses until raft re-delivered the recovered entries
	}
	if cost := time.Duration(n.fsm.snapshotCost.Load()); cost > closeSnapshotBudget/2 ||
		(cost == 0 && n.snapshots.stateEstimate() > closeSnapshotUnknownMax) {
		n.logger.Info("not snapshotting at close: the snapshot could outlast the budget",
			"tail", applied-newest, "latest_snapshot_work", cost, "budget", closeSnapshotBudget)
		return
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(n.ctx, closeSnapshotBudget)
	defer cancel()
	if err := n.futures.wait(ctx, n.raft.Snapshot()); err != nil {
		n.logger.Warn("snapshot at close failed; the next start replays the tail", "tail", applied-newest, "error", err)
		return
	}
	n.logger.Info("snapshot taken at close", "tail", applied-newest, "took", time.Since(start))
}
