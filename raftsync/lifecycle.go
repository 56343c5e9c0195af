package raftsync

import (
	"context"
	"sync"
	"sync/atomic"
)

// lifecycle is the node's start and close: the context and WaitGroup of
// every goroutine the node starts, whether raft runs yet, and the once-only
// close. After closed is set every method returns ErrClosed; after
// shutdown, ctx is cancelled, wg has drained and futures are stopped.
type lifecycle struct {
	ctx    context.Context // cancelled by Close; parent of background work
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// started is set once raft runs, and publishes Node.raft; RPC
	// handlers, which the listener starts before raft, answer "starting"
	// until then.
	started   atomic.Bool
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
	futures   *futureWaits // waiters on raft futures; stopped after raft
}
