package readystate

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftkit/raftkit/readiness"
)

// WaitResult is what WaitReady returns.
type WaitResult struct {
	// Status is the status WaitReady returned on.
	Status readiness.Status
	// RecoveredOnly is set when WaitReady returned because the
	// Policy.RecoveredGrace elapsed while the node was Recovered or later
	// but not Ready. The node may then serve only what its local state
	// allows (stale reads); it is not in sync with the cluster.
	RecoveredOnly bool
}

// Watch returns a channel of Status changes and a function that ends the
// subscription. The channel has a buffer of one and is seeded with the
// current Status; each change of State or Reason replaces an unread value,
// so a slow reader always finds the newest status and never blocks Update.
// Intermediate statuses may be skipped. When the Tracker reaches Closed the
// channel receives the Closed status and is then closed, so a range loop
// ends; on a Tracker already Closed it holds the Closed status and is
// closed. The cancel function closes the channel if needed and is
// idempotent.
func (t *Tracker) Watch() (<-chan readiness.Status, func()) {
	w := &watcher{ch: make(chan readiness.Status, 1)}
	t.mu.Lock()
	w.ch <- t.status
	if t.closed {
		w.closeLocked()
	} else {
		t.watchers[w] = struct{}{}
	}
	t.mu.Unlock()

	var once sync.Once
	cancel := func() {
		once.Do(func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			delete(t.watchers, w)
			w.closeLocked()
		})
	}
	return w.ch, cancel
}

// OnChange registers f to be called on every change of State or Reason
// with the previous and the new Status. Calls come from inside Update,
// synchronously, after the Tracker's lock is released and in the order the
// changes happened. f must not block and must not call Update or Wait (it
// may call Status). There is no unregistering: callbacks live as long as the Tracker.
// A nil f is ignored.
func (t *Tracker) OnChange(f func(old, new readiness.Status)) {
	if f == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.callbacks = append(t.callbacks, f)
}

// Wait blocks until cond holds for the current Status or for a Status a
// later Update produces, and returns that Status. cond is called on every
// Status the Tracker produces while Wait is blocked, one call at a time
// (from inside Update, so it must be quick and must not call Update or
// Wait). A nil cond is refused with an error. It returns ErrClosed, with the
// Closed status, when the Tracker reaches Closed and cond does not accept
// it, and ctx.Err(), with the current status, when ctx ends first.
// Cancelling ctx stops the wait only.
func (t *Tracker) Wait(ctx context.Context, cond func(readiness.Status) bool) (readiness.Status, error) {
	if cond == nil {
		return t.Status(), errors.New("readiness: Wait called with a nil condition")
	}
	w := &waiter{cond: cond, ch: make(chan waitOutcome, 1)}
	t.mu.Lock()
	cur := t.status
	if !t.closed {
		t.waiters[w] = struct{}{}
	}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.waiters, w)
		t.mu.Unlock()
	}()

	// Offer the status current at the call under notifyMu, so cond is never
	// called concurrently with the offers Update makes.
	t.notifyMu.Lock()
	w.offer(cur)
	t.notifyMu.Unlock()
	select {
	case out := <-w.ch:
		return out.status, out.err
	case <-ctx.Done():
		return t.Status(), ctx.Err()
	}
}

// Waiting returns the number of Wait and WaitReady calls blocked now.
func (t *Tracker) Waiting() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.waiters)
}

// WaitReady blocks until the node is Ready and returns at once if it
// already is. With Policy.RecoveredGrace > 0 it also returns, with
// RecoveredOnly set, once the node has been Recovered or later for the
// grace without being Ready (measured from Status.RecoveredAt with the
// Tracker's clock; no polling). It returns ErrRemoved when the node
// reaches Removed first, ErrClosed when the Tracker reaches Closed first,
// and ctx.Err() when ctx ends first; the WaitResult then carries the
// status at that moment. Cancelling ctx stops the wait only.
func (t *Tracker) WaitReady(ctx context.Context) (WaitResult, error) {
	grace := t.policy.RecoveredGrace
	readyOrRemoved := func(s readiness.Status) bool { return s.State == readiness.Ready || s.State == readiness.Removed }
	if grace <= 0 {
		s, err := t.Wait(ctx, readyOrRemoved)
		return WaitResult{Status: s}, removedErr(s, err)
	}
	settled := func(s readiness.Status) bool { return readyOrRemoved(s) || recoveredOrLater(s.State) }
	for {
		s, err := t.Wait(ctx, settled)
		if err != nil || readyOrRemoved(s) {
			return WaitResult{Status: s}, removedErr(s, err)
		}
		remaining := s.RecoveredAt.Add(grace).Sub(t.clk.Now())
		if remaining <= 0 {
			return WaitResult{Status: s, RecoveredOnly: true}, nil
		}
		s, err = t.waitReadyUntil(ctx, remaining, readyOrRemoved)
		switch {
		case err == nil:
			return WaitResult{Status: s}, removedErr(s, nil)
		case ctx.Err() != nil || errors.Is(err, ErrClosed):
			return WaitResult{Status: s}, err
		}
		// The grace ran out. Loop: return RecoveredOnly if the node is still
		// Recovered or later, or Ready if it just became so.
	}
}

// removedErr turns a wait that ended on Removed into ErrRemoved.
func removedErr(s readiness.Status, err error) error {
	if err == nil && s.State == readiness.Removed {
		return ErrRemoved
	}
	return err
}

// waitReadyUntil waits for cond for at most d of the Tracker's clock. It
// returns context.Canceled from its inner context when d runs out.
func (t *Tracker) waitReadyUntil(ctx context.Context, d time.Duration, cond func(readiness.Status) bool) (readiness.Status, error) {
	inner, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := t.clk.AfterFunc(d, cancel)
	defer timer.Stop()
	return t.Wait(inner, cond)
}

// watcher is one Watch subscription. Its fields are guarded by Tracker.mu.
type watcher struct {
	ch     chan readiness.Status
	closed bool
}

// sendLocked puts s in the channel, replacing an unread value. Only
// producers holding Tracker.mu send, so after the drain the send succeeds.
func (w *watcher) sendLocked(s readiness.Status) {
	if w.closed {
		return
	}
	select {
	case <-w.ch:
	default:
	}
	select {
	case w.ch <- s:
	default:
	}
}

func (w *watcher) closeLocked() {
	if !w.closed {
		w.closed = true
		close(w.ch)
	}
}

// waiter is one blocked Wait call.
type waiter struct {
	cond func(readiness.Status) bool
	ch   chan waitOutcome
	done atomic.Bool
}

type waitOutcome struct {
	status readiness.Status
	err    error
}

// offer hands s to the waiter if its condition holds or s is Closed. Only
// the first accepted status is delivered; the channel has room for it, so
// offer never blocks.
func (w *waiter) offer(s readiness.Status) {
	if w.done.Load() {
		return
	}
	var out waitOutcome
	switch {
	case w.cond(s):
		out = waitOutcome{status: s}
	case s.State == readiness.Closed:
		out = waitOutcome{status: s, err: ErrClosed}
	default:
		return
	}
	if w.done.CompareAndSwap(false, true) {
		w.ch <- out
	}
}
