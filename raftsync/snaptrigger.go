package raftsync

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// snapshotDutyCycle bounds the share of time the node spends taking
// snapshots it triggers itself: after a snapshot whose work (the FSM's
// Snapshot and Persist, not the wait behind applies) took d, the next one
// starts no sooner than d×(1/snapshotDutyCycle − 1) later.
const snapshotDutyCycle = 0.1

// minTriggeredSnapshotGap is the least time between two snapshots the
// trigger takes: each is followed by raft's log compaction, a write on the
// log store that competes with appends (docs/snapshots.md has the
// measurement behind it).
const minTriggeredSnapshotGap = time.Second

// maxTriggeredSnapshotSize is the largest snapshot (payload bytes) after
// which the trigger still takes the next one early; a larger state is left
// to raft's Interval timer. Size, not time, decides, because a snapshot's
// time varies with the machine's load (docs/snapshots.md says why 8 MiB).
const maxTriggeredSnapshotSize = 8 << 20

// snapshotRetryAfter is how long the trigger waits after a snapshot raft
// or the FSM refused (the locally recovered entries not yet re-delivered,
// a snapshot already in progress) before it asks again.
const snapshotRetryAfter = time.Second

// catchUpSnapshotDefer: while the node is not Ready (a joiner or a
// restarted member catching up), the trigger waits until the tail is this
// many Thresholds long, or the node Ready. A snapshot in the middle of a
// catch-up competes with the apply it waits for, and the tail it would
// save is replayed only by a restart, which Close's own snapshot covers
// (closesnap.go; docs/snapshots.md has the measurement).
const catchUpSnapshotDefer = 8

// snapshotState is what the trigger observes of the FSM wrapper.
type snapshotState struct {
	applied     uint64 // the applied index
	delivered   uint64 // the highest index raft has handed the wrapper
	skipThrough uint64 // entries up to here are held but not yet re-delivered
	lastSize    int64  // payload bytes of the latest snapshot
	lastCost    time.Duration
	// appliedBytes counts the command bytes applied (fsm.appliedBytes).
	appliedBytes uint64
	// ready: the node is Ready (not catching up).
	ready bool
}

// snapshotState reads what the snapshot trigger decides from.
func (f *fsm) snapshotState() snapshotState {
	return snapshotState{
		applied:     f.applied.Index(),
		delivered:   f.delivered.Load(),
		skipThrough: f.skipThrough.Load(),
		lastSize:    f.snapshotSize.Load(),
		lastCost:    time.Duration(f.snapshotCost.Load()),

		appliedBytes: f.appliedBytes.Load(),
	}
}

// snapshotDue reports whether the trigger takes a snapshot now: the tail
// after the newest snapshot (at base) has reached threshold, or
// catchUpSnapshotDefer thresholds while the node is not Ready; the next
// snapshot is estimated small enough (snapshotEstimate, against
// maxTriggeredSnapshotSize) to take early; and the FSM can be snapshotted
// (it refuses while it holds locally recovered entries raft has not
// re-delivered). bytesAtBase is s.appliedBytes when base was taken.
func snapshotDue(s snapshotState, base, bytesAtBase, threshold uint64) bool {
	if s.applied < base+threshold {
		return false
	}
	if s.applied < base+catchUpSnapshotDefer*threshold && !s.ready {
		return false // catching up: snapshot once Ready, or once the tail is long
	}
	return snapshotEstimate(s, bytesAtBase) <= maxTriggeredSnapshotSize &&
		s.delivered >= s.skipThrough
}

// snapshotEstimate bounds the size the next snapshot would have: the
// latest snapshot's payload plus every command byte applied since
// (deletes and overwrites make it an overestimate). Without it the first
// snapshot of a large state, whose size is not known yet, would be taken
// early.
func snapshotEstimate(s snapshotState, bytesAtBase uint64) int64 {
	since := s.appliedBytes - bytesAtBase
	return s.lastSize + int64(min(since, 1<<62))
}

// snapshotPause is how long the trigger waits after a snapshot whose work
// took cost before it takes the next: the duty cycle's share, and never
// less than minTriggeredSnapshotGap.
func snapshotPause(cost time.Duration) time.Duration {
	return max(time.Duration(float64(cost)*(1/snapshotDutyCycle-1)), minTriggeredSnapshotGap)
}

// newestSnapshot returns the snapshot of metas with the highest index, or
// nil. It does not rely on the order a store lists them in.
func newestSnapshot(metas []*raft.SnapshotMeta) *raft.SnapshotMeta {
	var newest *raft.SnapshotMeta
	for _, m := range metas {
		if newest == nil || m.Index > newest.Index {
			newest = m
		}
	}
	return newest
}

// snapshotTriggerDeps is everything the trigger needs, given explicitly so
// that it holds no node.
type snapshotTriggerDeps struct {
	threshold uint64
	// take asks raft for a snapshot, waits for it, and returns its index.
	take func(ctx context.Context) (uint64, error)
	// list lists the snapshots in the store.
	list  func() ([]*raft.SnapshotMeta, error)
	state func() snapshotState
	// ctx ends the trigger (Close); wg tracks its goroutine.
	ctx    context.Context
	wg     *sync.WaitGroup
	logger hclog.Logger
}

// snapshotTrigger takes a snapshot as soon as Config.Snapshot.Threshold
// entries were applied since the newest one, rather than when raft's
// SnapshotInterval timer next finds them (30-60 s by default). The log
// tail after the newest snapshot is what a restart reads — raft scans it
// for configuration entries in NewRaft and re-delivers it to the FSM — so
// keeping it near Threshold keeps restart time flat in the log's length.
// raft's own timer stays as a backstop. It runs at most one snapshot at a
// time, on a goroutine of deps.wg.
type snapshotTrigger struct {
	d snapshotTriggerDeps

	// base is the index of the newest snapshot known to the trigger.
	base atomic.Uint64
	// bytesAtBase is snapshotState.appliedBytes when base was taken.
	bytesAtBase atomic.Uint64
	// running is set while a triggered snapshot is in progress.
	running atomic.Bool
	// notBefore (unix nanoseconds) holds the next snapshot back, per
	// snapshotPause, or snapshotRetryAfter.
	notBefore atomic.Int64
}

func newSnapshotTrigger(d snapshotTriggerDeps) *snapshotTrigger {
	t := &snapshotTrigger{d: d}
	t.learnBase()
	return t
}

// learnBase sets base to the newest snapshot in the store: one raft took
// on its own timer, or one installed from the leader.
func (t *snapshotTrigger) learnBase() {
	if metas, err := t.d.list(); err == nil {
		if m := newestSnapshot(metas); m != nil {
			t.base.Store(m.Index)
			t.bytesAtBase.Store(t.d.state().appliedBytes)
		}
	}
}

// applied is called from raft's FSM goroutine after each batch. It only
// compares atomics; snapshots run on a goroutine of deps.wg, which Close
// waits for after raft has stopped (so after the last call of applied).
func (t *snapshotTrigger) applied(uint64) {
	if !t.due() || t.d.ctx.Err() != nil || !t.running.CompareAndSwap(false, true) {
		return
	}
	t.d.wg.Add(1)
	go func() {
		defer t.d.wg.Done()
		t.run()
	}()
}

func (t *snapshotTrigger) due() bool {
	return snapshotDue(t.d.state(), t.base.Load(), t.bytesAtBase.Load(), t.d.threshold)
}

// run takes snapshots while one is due, each after the pause the previous
// one set. It owns running: applied starts no second run meanwhile, so a
// tail that grows while a snapshot is held back or in progress is taken
// when run gets to it, not left until the next write.
func (t *snapshotTrigger) run() {
	for {
		if wait := time.Until(time.Unix(0, t.notBefore.Load())); wait > 0 && !sleepCtx(t.d.ctx, wait) {
			t.running.Store(false)
			return
		}
		if t.d.ctx.Err() != nil {
			t.running.Store(false)
			return
		}
		t.take()
		if t.due() {
			continue
		}
		t.running.Store(false)
		// An entry applied between the check above and the store saw
		// running set and left the snapshot to this run: check again.
		if !t.due() || !t.running.CompareAndSwap(false, true) {
			return
		}
	}
}

// take asks raft for a snapshot and records its index. raft snapshots the
// FSM at raft's applied index and then compacts the log behind it,
// keeping TrailingLogs entries.
func (t *snapshotTrigger) take() {
	start := time.Now()
	bytes := t.d.state().appliedBytes
	index, err := t.d.take(t.d.ctx)
	switch {
	case err == nil:
		if index != 0 {
			t.base.Store(index)
			t.bytesAtBase.Store(bytes)
		}
		cost := t.d.state().lastCost
		pause := snapshotPause(cost)
		t.notBefore.Store(time.Now().Add(pause).UnixNano())
		t.d.logger.Debug("snapshot taken at threshold", "index", t.base.Load(), "took", time.Since(start), "work", cost, "next_after", pause)
	case errors.Is(err, raft.ErrNothingNewToSnapshot):
		// raft's own timer, or a snapshot installed from the leader, got
		// there first: learn its index, and do not ask again at once.
		t.learnBase()
		t.notBefore.Store(time.Now().Add(snapshotRetryAfter).UnixNano())
	case t.d.ctx.Err() != nil:
	default:
		t.d.logger.Debug("threshold snapshot deferred", "error", err)
		t.notBefore.Store(time.Now().Add(snapshotRetryAfter).UnixNano())
	}
}

// takeSnapshot asks raft for a snapshot, waits for it (until ctx ends or
// raft shuts down) and returns its index, 0 when the snapshot was taken
// but cannot be opened.
func (n *Node) takeSnapshot(ctx context.Context) (uint64, error) {
	f := n.raft.Snapshot()
	if err := n.life.futures.wait(ctx, f); err != nil {
		return 0, err
	}
	meta, rc, err := f.Open()
	if err != nil {
		return 0, nil
	}
	rc.Close()
	return meta.Index, nil
}

// stateEstimate is snapshotEstimate for the trigger's newest snapshot.
func (t *snapshotTrigger) stateEstimate() int64 {
	return snapshotEstimate(t.d.state(), t.bytesAtBase.Load())
}
