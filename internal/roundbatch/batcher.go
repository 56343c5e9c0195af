package roundbatch

import (
	"context"
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

	mu      sync.Mutex
	current *batch // in flight, nil when idle
	next    *batch // waiting for current to end, nil when nobody waits
	closed  bool
	waiting int // callers blocked in Do
}

// batch is one round and the callers sharing it. Fields other than done
// are guarded by Batcher.mu until done is closed, read-only after.
type batch struct {
	done     chan struct{}
	index    uint64
	err      error
	finished bool
	waiters  int                // callers still waiting for this round
	cancel   context.CancelFunc // ends a round led by a caller (see lead)
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
	return &Batcher{round: round, timeout: timeout, ctx: ctx, cancel: cancel}
}

// Do blocks until a round that started after Do was called ends, and
// returns that round's index. It returns the round's error (shared by all
// the round's callers, including context.DeadlineExceeded when the round
// outlived Options.Timeout), ctx.Err() as soon as ctx is done (the
// round goes on for the others), ErrClosed once Close has been
// called, and ErrNoRoundFunc when the Batcher has no RoundFunc.
func (b *Batcher) Do(ctx context.Context) (uint64, error) {
	if b.round == nil {
		return 0, ErrNoRoundFunc
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0, ErrClosed
	}
	var r *batch
	switch {
	case b.current == nil:
		return b.lead(ctx)
	case b.next == nil:
		r = &batch{done: make(chan struct{})}
		b.next = r
	default:
		r = b.next
	}
	r.waiters++
	b.waiting++
	b.mu.Unlock()

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
		for _, r := range []*batch{b.current, b.next} {
			if r != nil {
				if r.cancel != nil {
					r.cancel()
				}
				b.finishLocked(r, 0, ErrClosed)
			}
		}
		b.next = nil
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// lead runs a round on the calling goroutine, for a caller that found the
// Batcher idle; b.mu is held on entry and released. Nobody else can join
// this round (later callers join the next one), so it runs under the
// caller's ctx: a caller that gives up ends its own round, and a lone
// reader pays no goroutine hand-off. Close cancels the round through
// r.cancel. When callers joined the next round meanwhile, a goroutine runs
// it (and any after it), so the leader returns as soon as its round ends.
func (b *Batcher) lead(ctx context.Context) (uint64, error) {
	r := &batch{done: make(chan struct{}), waiters: 1}
	rctx, cancel := context.WithTimeout(ctx, b.timeout)
	r.cancel = cancel
	b.current = r
	b.waiting++
	b.wg.Add(1)
	b.mu.Unlock()

	b.rounds.Add(1)
	index, err := b.round(rctx)
	cancel()

	b.mu.Lock()
	b.waiting--
	b.finishLocked(r, index, err) // a no-op when Close came first
	b.startNextLocked()
	b.mu.Unlock()
	b.wg.Done()
	if r.err != nil && ctx.Err() != nil {
		return 0, ctx.Err()
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
		ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
		index, err := b.round(ctx)
		cancel()

		b.mu.Lock()
		b.finishLocked(r, index, err)
		r = b.next
		b.next = nil
		if r != nil && r.waiters == 0 {
			r = nil // every caller of the next round gave up: skip it
		}
		b.current = r
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
	close(r.done)
}
