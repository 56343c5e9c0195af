package rpc

import (
	"context"
	"sync"
)

// requestOverhead is what a request in flight costs beyond its body (its
// goroutine, frame and response), charged against the byte budgets so
// that empty requests are bounded too.
const requestOverhead = 1 << 10

// budget is a count of bytes that requests in flight may hold. Taking
// waits while too few are free; it is not FIFO.
type budget struct {
	mu      sync.Mutex
	free    int64
	waiting int
	changed chan struct{} // closed when bytes are given back to waiters
}

func newBudget(n int64) *budget {
	return &budget{free: n, changed: make(chan struct{})}
}

// take reserves n bytes, waiting until they are free or ctx ends. It
// reports whether it reserved them. n must not exceed the budget's size.
func (b *budget) take(ctx context.Context, n int64) bool {
	b.mu.Lock()
	for b.free < n {
		b.waiting++
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			b.mu.Lock()
			b.waiting--
			b.mu.Unlock()
			return false
		}
		b.mu.Lock()
		b.waiting--
	}
	b.free -= n
	b.mu.Unlock()
	return true
}

// tryTake reserves n bytes if they are free now.
func (b *budget) tryTake(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.free < n {
		return false
	}
	b.free -= n
	return true
}

// give returns n bytes and wakes the waiters, if any.
func (b *budget) give(n int64) {
	b.mu.Lock()
	b.free += n
	if b.waiting > 0 {
		close(b.changed)
		b.changed = make(chan struct{})
	}
	b.mu.Unlock()
}
