package indexwait

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by Wait once the Waiter has been closed and the
// index has not reached the target.
var ErrClosed = errors.New("indexwait: closed")

// Waiter tracks one monotonically increasing index. The zero value is ready
// to use and stands at index 0.
type Waiter struct {
	current atomic.Uint64

	mu      sync.Mutex
	waiters waitHeap
	closed  bool
	closeCh chan struct{}
}

// Index returns the current index without blocking.
func (w *Waiter) Index() uint64 { return w.current.Load() }

// Advance raises the index to idx and wakes every waiter whose target is at
// most idx. A smaller idx than the current one is ignored: the index never
// goes backwards through Advance. Advance never blocks.
func (w *Waiter) Advance(idx uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if idx <= w.current.Load() {
		return
	}
	w.current.Store(idx)
	for len(w.waiters) > 0 && w.waiters[0].target <= idx {
		e := heap.Pop(&w.waiters).(*entry)
		close(e.ch)
	}
}

// Reset sets the index to idx even when it is lower than the current one,
// for the rare moments when the tracked state is replaced wholesale (a
// snapshot restore). Waiters whose targets idx reaches are woken.
func (w *Waiter) Reset(idx uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.current.Store(idx)
	for len(w.waiters) > 0 && w.waiters[0].target <= idx {
		e := heap.Pop(&w.waiters).(*entry)
		close(e.ch)
	}
}

// Wait blocks until the index is at least idx. It returns nil at once when
// the index is already there, ctx.Err() when ctx ends first, and ErrClosed
// when the Waiter is closed first.
func (w *Waiter) Wait(ctx context.Context, idx uint64) error {
	if w.current.Load() >= idx {
		return nil
	}
	w.mu.Lock()
	if w.current.Load() >= idx {
		w.mu.Unlock()
		return nil
	}
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	if w.closeCh == nil {
		w.closeCh = make(chan struct{})
	}
	e := &entry{target: idx, ch: make(chan struct{})}
	heap.Push(&w.waiters, e)
	closeCh := w.closeCh
	w.mu.Unlock()

	select {
	case <-e.ch:
		return nil
	case <-closeCh:
		if w.current.Load() >= idx {
			return nil
		}
		return ErrClosed
	case <-ctx.Done():
		w.mu.Lock()
		if e.index >= 0 {
			heap.Remove(&w.waiters, e.index)
		}
		w.mu.Unlock()
		if w.current.Load() >= idx {
			return nil
		}
		return ctx.Err()
	}
}

// Waiting returns the number of goroutines blocked in Wait.
func (w *Waiter) Waiting() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.waiters)
}

// Close wakes every waiter with ErrClosed (or nil for those the index
// already satisfies) and makes later Waits that cannot return at once fail
// with ErrClosed. Close is idempotent.
func (w *Waiter) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	if w.closeCh == nil {
		w.closeCh = make(chan struct{})
	}
	close(w.closeCh)
	for len(w.waiters) > 0 {
		heap.Pop(&w.waiters)
	}
}

type entry struct {
	target uint64
	ch     chan struct{}
	index  int // position in the heap, -1 once removed
}

type waitHeap []*entry

func (h waitHeap) Len() int            { return len(h) }
func (h waitHeap) Less(i, j int) bool  { return h[i].target < h[j].target }
func (h waitHeap) Swap(i, j int)       { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *waitHeap) Push(x interface{}) { e := x.(*entry); e.index = len(*h); *h = append(*h, e) }
func (h *waitHeap) Pop() interface{} {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.index = -1
	*h = old[:len(old)-1]
	return e
}
