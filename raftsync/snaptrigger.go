package raftsync

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/readiness"
)

// snapshotDutyCycle bounds the share of time the node spends taking
// snapshots it triggers itself: after a snapshot whose work (the FSM's
// Snapshot and Persist, not the wait behind applies) took d, the next one
// starts no sooner than d×(1/snapshotDutyCycle − 1) later. A durable
// FSM's snapshots are cheap and may follow each other closely; a large
// in-memory state, or a follower catching up a long log, is not
// snapshotted every Threshold entries.
const snapshotDutyCycle = 0.1

// minTriggeredSnapshotGap is the least time between two snapshots the
// trigger takes. However cheap the snapshot, each one is followed by
// raft's log compaction, a write transaction on the log store that
// competes with appends: at 256 concurrent writers (about 20k writes/s)
// snapshotting every Threshold entries cost a quarter of the write
// throughput. One per second still leaves a tail of at most a second of
// writes beyond Threshold, where raft's own timer leaves 30 to 60.
const minTriggeredSnapshotGap = time.Second

// maxTriggeredSnapshotSize is the largest snapshot (payload bytes) after
// which the trigger still takes the next one early. A larger state is left
// to raft's Interval timer: writing tens of megabytes every Threshold
// entries competes with the log's own fsyncs (in the bench's 100 MB join
// fill, three members snapshotting 50-80 MB at once stalled replication
// long enough for the leader to step down; with a 16 MiB cap the second
// early snapshot, taken after a 14 MB one, still did). Configuration state is a few megabytes and
// snapshots in milliseconds. Size, not time, decides: a snapshot's time
// swings with the machine's load, and one slow snapshot must not switch
// the trigger off for a small state.
const maxTriggeredSnapshotSize = 8 << 20

// snapshotRetryAfter is how long the trigger waits after a snapshot raft
// or the FSM refused (the locally recovered entries not yet re-delivered,
// a snapshot already in progress) before it asks again.
const snapshotRetryAfter = time.Second

// catchUpSnapshotDefer: while the node is not Ready (a joiner or a
// restarted member catching up), the trigger waits until the tail is this
// many Thresholds long, or the node Ready. A snapshot in the middle of a
// catch-up competes with the apply it waits for (a 10 MB join took three
// times bare raft's time with the joiner snapshotting at Threshold), and
// the tail it would save is replayed only by a restart, which Close's own
// snapshot covers (closesnap.go).
const catchUpSnapshotDefer = 8

// snapshotTrigger takes a snapshot as soon as Config.Snapshot.Threshold
// entries were applied since the newest one, rather than when raft's
// SnapshotInterval timer next finds them (30-60 s by default). The log
// tail after the newest snapshot is what a restart reads — raft scans it
// for configuration entries in NewRaft and re-delivers it to the FSM — so
// keeping it near Threshold keeps restart time flat in the log's length.
// raft's own timer stays as a backstop.
type snapshotTrigger struct {
	n         *Node
	threshold uint64

	// base is the index of the newest snapshot known to the trigger.
	base atomic.Uint64
	// bytesAtBase is fsm.appliedBytes when base was taken.
	bytesAtBase atomic.Uint64
	// running is set while a triggered snapshot is in progress.
	running atomic.Bool
	// notBefore (unix nanoseconds) holds the next snapshot back, per
	// snapshotDutyCycle and minTriggeredSnapshotGap, or snapshotRetryAfter.
	notBefore atomic.Int64
}

func newSnapshotTrigger(n *Node) *snapshotTrigger {
	t := &snapshotTrigger{n: n, threshold: n.cfg.Snapshot.Threshold}
	t.learnBase()
	return t
}

// learnBase sets base to the newest snapshot in the store: one raft took
// on its own timer, or one installed from the leader.
func (t *snapshotTrigger) learnBase() {
	if metas, err := t.n.store.snapshots.List(); err == nil && len(metas) > 0 {
		t.base.Store(metas[0].Index)
		t.bytesAtBase.Store(t.n.fsm.appliedBytes.Load())
	}
}

// stateEstimate bounds the size the next snapshot would have: the latest
// snapshot's payload plus every command byte applied since (deletes and
// overwrites make it an overestimate). Without it the first snapshot of a
// large state, whose size is not known yet, would be taken early: in the
// bench's 10 MB join every member did so at once, at the end of the fill,
// under the join.
func (t *snapshotTrigger) stateEstimate() int64 {
	since := t.n.fsm.appliedBytes.Load() - t.bytesAtBase.Load()
	return t.n.fsm.snapshotSize.Load() + int64(min(since, 1<<62))
}

// applied is called from raft's FSM goroutine after each batch. It only
// compares atomics; snapshots run on a goroutine of the node's WaitGroup,
// which Close waits for after raft has stopped (so after the last call of
// applied).
func (t *snapshotTrigger) applied(index uint64) {
	if !t.due(index) || t.n.ctx.Err() != nil || !t.running.CompareAndSwap(false, true) {
		return
	}
	t.n.wg.Add(1)
	go func() {
		defer t.n.wg.Done()
		t.run()
	}()
}

// due reports whether the tail after the newest snapshot has reached
// Threshold, the latest snapshot was small enough (maxTriggeredSnapshotSize)
// to take the next early, and the FSM can
// be snapshotted (it refuses while it holds locally recovered entries raft
// has not re-delivered).
func (t *snapshotTrigger) due(applied uint64) bool {
	base := t.base.Load()
	if applied < base+t.threshold {
		return false
	}
	if applied < base+catchUpSnapshotDefer*t.threshold && t.n.tracker.Status().State != readiness.Ready {
		return false // catching up: snapshot once Ready, or once the tail is long
	}
	return t.stateEstimate() <= maxTriggeredSnapshotSize &&
		t.n.fsm.delivered.Load() >= t.n.fsm.skipThrough.Load()
}

// run takes snapshots while one is due, each after the pause the previous
// one set. It owns running: applied starts no second run meanwhile, so a
// tail that grows while a snapshot is held back or in progress is taken
// when run gets to it, not left until the next write.
func (t *snapshotTrigger) run() {
	for {
		if wait := time.Until(time.Unix(0, t.notBefore.Load())); wait > 0 && !sleepCtx(t.n.ctx, wait) {
			t.running.Store(false)
			return
		}
		if t.n.ctx.Err() != nil {
			t.running.Store(false)
			return
		}
		t.take()
		if t.due(t.n.fsm.applied.Index()) {
			continue
		}
		t.running.Store(false)
		// An entry applied between the check above and the store saw
		// running set and left the snapshot to this run: check again.
		if !t.due(t.n.fsm.applied.Index()) || !t.running.CompareAndSwap(false, true) {
			return
		}
	}
}

// take asks raft for a snapshot and records its index. raft snapshots the
// FSM at raft's applied index and then compacts the log behind it,
// keeping TrailingLogs entries.
func (t *snapshotTrigger) take() {
	start := time.Now()
	bytes := t.n.fsm.appliedBytes.Load()
	f := t.n.raft.Snapshot()
	err := t.n.futures.wait(t.n.ctx, f)
	switch {
	case err == nil:
		meta, rc, oerr := f.Open()
		if oerr == nil {
			rc.Close()
			t.base.Store(meta.Index)
			t.bytesAtBase.Store(bytes)
		}
		cost := time.Duration(t.n.fsm.snapshotCost.Load())
		pause := max(time.Duration(float64(cost)*(1/snapshotDutyCycle-1)), minTriggeredSnapshotGap)
		t.notBefore.Store(time.Now().Add(pause).UnixNano())
		t.n.logger.Debug("snapshot taken at threshold", "index", t.base.Load(), "took", time.Since(start), "work", cost, "next_after", pause)
	case errors.Is(err, raft.ErrNothingNewToSnapshot):
		// raft's own timer, or a snapshot installed from the leader, got
		// there first: learn its index, and do not ask again at once.
		t.learnBase()
		t.notBefore.Store(time.Now().Add(snapshotRetryAfter).UnixNano())
	case t.n.ctx.Err() != nil:
	default:
		t.n.logger.Debug("threshold snapshot deferred", "error", err)
		t.notBefore.Store(time.Now().Add(snapshotRetryAfter).UnixNano())
	}
}
