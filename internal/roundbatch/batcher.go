package roundbatch

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTimeout bounds one round when Options.Timeout is 0.
const DefaultTimeout = 5 * time.Second

// RoundFunc runs one quorum round: it captures the read index (the commit
// index) first, then confirms leadership, and returns the index once
// confirmed. It must return promptly once ctx is done.
type RoundFunc func(ctx context.Context) (index uint64, err error)

// Options tunes a Batcher.
type Options struct {
	// Timeout bounds each round; 0 (or less) means DefaultTimeout.
	Timeout time.Duration
}

// Batcher shares quorum rounds among concurrent readers, so that N reads
// waiting at the same moment cost one round instead of N. It is safe for
// concurrent use. Create one with New and Close it when done.
//
// At most one round is in flight. A Do call made while no round is in
// flight starts one at once; every Do call made while a round is in flight
// joins the single next round, which starts as soon as the current one
// ends. A caller never joins a round already in flight, because that round
// may have read its index before the caller's read began.
type Batcher struct {
	round   RoundFunc
	timeout time.Duration

	ctx    context.Context // cancelled by Close; parent of every round
	cancel context.CancelFunc
	wg     sync.WaitGroup
	rounds atomic.Uint64

	timer *time.Timer // ends the current round at its deadline (expire)

	mu      sync.Mutex
	current *batch // in flight, nil when idle
	next    *batch // waiting for current to end, nil when nobody waits
	closed  bool
	waiting int // callers blocked in Do
}

// batch is one round and the callers sharing it. Fields other than done
// are guarded by Batcher.mu until done is closed, read-only after; ctx is
// set under Batcher.mu before the round starts.
type batch struct {
	// done is closed when the round ends. It is nil for a round led by its
	// caller (see lead): nobody else ever waits on that round.
	done     chan struct{}
	index    uint64
	err      error
	finished bool
	waiters  int // callers still waiting for this round
	ctx      roundCtx
}

// errRoundTimeout is the cancellation cause of a round that reached its
// deadline; roundCtx reports it as context.DeadlineExceeded.
var errRoundTimeout = fmt.Errorf("roundbatch: round deadline reached: %w", context.DeadlineExceeded)

// roundCtx is the context a round runs under. It ends when its parent ends
// (the leading caller's ctx, or the Batcher's, which Close cancels), when
// Close cancels it, or at its deadline, when the Batcher's timer cancels
// it with errRoundTimeout. It then behaves as a context.WithDeadline
// would: Err is context.DeadlineExceeded and Deadline reports the earlier
// of its own and its parent's. One timer per Batcher serves every round
// (at most one is in flight), so a round costs no timer of its own.
type roundCtx struct {
	context.Context // context.WithCancelCause of the parent
	cancel          context.CancelCauseFunc
	deadline        time.Time
}

func (c *roundCtx) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

func (c *roundCtx) Err() error {
	err := c.Context.Err()
	if err != nil && context.Cause(c.Context) == errRoundTimeout {
		return context.DeadlineExceeded
	}
	return err
}

// New returns a Batcher that runs round for its rounds. A nil round
// makes every Do fail with ErrNoRoundFunc. A round started on an idle
// Batcher runs on its caller's goroutine; the Batcher starts a goroutine
// only for a round that callers joined while another was in flight, and
// Close ends it.
func New(round RoundFunc, o Options) *Batcher {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Batcher{round: round, timeout: timeout, ctx: ctx, cancel: cancel}
	b.timer = time.AfterFunc(time.Hour, b.expire)
	b.timer.Stop()
	return b
}

// Do blocks until a round that started after Do was called ends, and
// returns that round's index. It returns the round's error (shared by all
// the round's callers, including context.DeadlineExceeded when the round
// outlived Options.Timeout), ctx.Err() as soon as ctx is done (the
// round goes on for the others), ErrClosed once Close has been
// called, and ErrNoRoundFunc when the Batcher has no RoundFunc.
func (b *Batcher) Do(ctx context.Context) (uint64, error) {
	return b.DoUntil(ctx, time.Time{})
}

// DoUntil is Do for a caller that gives up at deadline (none when zero),
// as if ctx had that deadline: it returns context.DeadlineExceeded once
// deadline has passed, and a round it runs itself ends by then. It spares
// the caller a context.WithDeadline of its own.
func (b *Batcher) DoUntil(ctx context.Context, deadline time.Time) (uint64, error) {
	if b.round == nil {
		return 0, ErrNoRoundFunc
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		return 0, context.DeadlineExceeded
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0, ErrClosed
	}
	var r *batch
	switch {
	case b.current == nil:
		return b.lead(ctx, deadline)
	case b.next == nil:
		r = &batch{done: make(chan struct{})}
		b.next = r
	default:
		r = b.next
	}
	r.waiters++
	b.waiting++
	b.mu.Unlock()
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}

	select {
	case <-r.done:
		b.mu.Lock()
		b.waiting--
		b.mu.Unlock()
		return r.index, r.err
	case <-ctx.Done():
		b.mu.Lock()
		b.waiting--
		r.waiters--
		b.mu.Unlock()
		return 0, ctx.Err()
	}
}

// Rounds returns how many rounds have started so far. Never blocks.
func (b *Batcher) Rounds() uint64 { return b.rounds.Load() }

// Waiting returns how many callers are blocked in Do. Never blocks.
func (b *Batcher) Waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.waiting
}

// Close cancels the round in flight, fails every waiting caller with
// ErrClosed, and waits for the Batcher's goroutine to end (so it
// blocks until the RoundFunc honours its cancelled context). Later Do calls
// return ErrClosed. Close is idempotent.
func (b *Batcher) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		b.cancel()
		b.timer.Stop()
		for _, r := range []*batch{b.current, b.next} {
			if r != nil {
				if r.ctx.cancel != nil {
					r.ctx.cancel(nil)
				}
				b.finishLocked(r, 0, ErrClosed)
			}
		}
		b.next = nil
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// startRoundLocked makes r the current round and sets up its context under
// parent, ending by deadline at the latest; b.mu must be held.
func (b *Batcher) startRoundLocked(r *batch, parent context.Context, deadline time.Time) {
	if until := time.Now().Add(b.timeout); deadline.IsZero() || until.Before(deadline) {
		deadline = until
	}
	b.current = r
	r.ctx.Context, r.ctx.cancel = context.WithCancelCause(parent)
	r.ctx.deadline = deadline
	if d := time.Until(deadline); d > 0 {
		b.timer.Reset(d)
	} else {
		r.ctx.cancel(errRoundTimeout)
	}
}

// endRound releases the context of r, a round that has just returned.
func (b *Batcher) endRound(r *batch) {
	b.timer.Stop()
	r.ctx.cancel(nil)
}

// expire runs on the Batcher's timer: it ends the current round if its
// deadline has passed. A timer that fires for a round already over finds
// a later deadline on the round current then (or none) and does nothing.
func (b *Batcher) expire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r := b.current; r != nil && r.ctx.cancel != nil && !time.Now().Before(r.ctx.deadline) {
		r.ctx.cancel(errRoundTimeout)
	}
}

// lead runs a round on the calling goroutine, for a caller that found the
// Batcher idle; b.mu is held on entry and released. Nobody else can join
// this round (later callers join the next one), so it runs under the
// caller's ctx: a caller that gives up ends its own round, and a lone
// reader pays no goroutine hand-off. Close cancels the round through
// r.ctx. When callers joined the next round meanwhile, a goroutine runs
// it (and any after it), so the leader returns as soon as its round ends.
func (b *Batcher) lead(ctx context.Context, deadline time.Time) (uint64, error) {
	r := &batch{waiters: 1}
	b.startRoundLocked(r, ctx, deadline)
	b.waiting++
	b.wg.Add(1)
	b.mu.Unlock()

	b.rounds.Add(1)
	index, err := b.round(&r.ctx)
	b.endRound(r)

	b.mu.Lock()
	b.waiting--
	b.finishLocked(r, index, err) // a no-op when Close came first
	b.startNextLocked()
	b.mu.Unlock()
	b.wg.Done()
	if r.err != nil {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return 0, context.DeadlineExceeded
		}
	}
	return r.index, r.err
}

// startNextLocked makes the next round, if any caller still waits for it,
// the current one and starts a goroutine to run it; b.mu must be held.
func (b *Batcher) startNextLocked() {
	r := b.next
	b.next = nil
	if r != nil && r.waiters == 0 {
		r = nil // every caller of the next round gave up: skip it
	}
	b.current = r
	if r != nil {
		b.startRoundLocked(r, b.ctx, time.Time{})
		b.wg.Add(1)
		go b.run(r)
	}
}

// run executes r and then, in turn, each next round that callers joined
// meanwhile; it returns when no caller waits for another round.
func (b *Batcher) run(r *batch) {
	defer b.wg.Done()
	for r != nil {
		b.rounds.Add(1)
		index, err := b.round(&r.ctx)
		b.endRound(r)

		b.mu.Lock()
		b.finishLocked(r, index, err)
		r = b.next
		b.next = nil
		if r != nil && r.waiters == 0 {
			r = nil // every caller of the next round gave up: skip it
		}
		b.current = r
		if r != nil {
			b.startRoundLocked(r, b.ctx, time.Time{})
		}
		b.mu.Unlock()
	}
}

// finishLocked publishes a round's outcome once; b.mu must be held.
func (b *Batcher) finishLocked(r *batch, index uint64, err error) {
	if r.finished {
		return
	}
	r.finished = true
	if err == nil {
		r.index = index
	} else {
		r.err = err
	}
	if r.done != nil {
		close(r.done)
	}
}
