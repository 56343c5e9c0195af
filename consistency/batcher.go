package consistency

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultRoundTimeout bounds one round when BatcherOptions.Timeout is 0.
const DefaultRoundTimeout = 5 * time.Second

// RoundFunc runs one quorum round: it captures the read index (the commit
// index) first, then confirms leadership, and returns the index once
// confirmed. It must return promptly once ctx is done.
type RoundFunc func(ctx context.Context) (index uint64, err error)

// BatcherOptions tunes a Batcher.
type BatcherOptions struct {
	// Timeout bounds each round; 0 (or less) means DefaultRoundTimeout.
	Timeout time.Duration
}

// Batcher shares quorum rounds among concurrent readers, so that N reads
// waiting at the same moment cost one round instead of N. It is safe for
// concurrent use. Create one with NewBatcher and Close it when done.
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
	waiters  int // callers still waiting for this round
}

// NewBatcher returns a Batcher that runs round for its rounds. A nil round
// makes every Do fail with ErrNoRoundFunc. The Batcher starts goroutines
// only while a round runs; Close ends them.
func NewBatcher(round RoundFunc, o BatcherOptions) *Batcher {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultRoundTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Batcher{round: round, timeout: timeout, ctx: ctx, cancel: cancel}
}

// Do blocks until a round that started after Do was called ends, and
// returns that round's index. It returns the round's error (shared by all
// the round's callers, including context.DeadlineExceeded when the round
// outlived BatcherOptions.Timeout), ctx.Err() as soon as ctx is done (the
// round goes on for the others), ErrBatcherClosed once Close has been
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
		return 0, ErrBatcherClosed
	}
	var r *batch
	switch {
	case b.current == nil:
		r = &batch{done: make(chan struct{})}
		b.current = r
		b.wg.Add(1)
		go b.run(r)
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
// ErrBatcherClosed, and waits for the Batcher's goroutine to end (so it
// blocks until the RoundFunc honours its cancelled context). Later Do calls
// return ErrBatcherClosed. Close is idempotent.
func (b *Batcher) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		b.cancel()
		for _, r := range []*batch{b.current, b.next} {
			if r != nil {
				b.finishLocked(r, 0, ErrBatcherClosed)
			}
		}
		b.next = nil
	}
	b.mu.Unlock()
	b.wg.Wait()
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
