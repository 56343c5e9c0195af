package raftsync

import (
	"context"
	"reflect"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// futureWaits waits on raft futures on behalf of callers that may give up
// first, and guarantees no waiter outlives the node.
//
// raft futures cannot be cancelled, and raft v1.7.3 does not answer every
// future it accepted: entries committed and queued for the FSM when raft
// shuts down are dropped with their futures unanswered (runFSM returns
// without draining fsmMutateCh), and so are futures still buffered in
// applyCh when BatchApplyCh is set. A goroutine blocked in Error on such a
// future would block forever. raft's own futures carry an exported
// ShutdownCh that makes Error return ErrRaftShutdown once it closes; raft
// sets it only on a few internal futures, so wait binds it to a channel
// the node closes after raft.Shutdown has returned, when raft can answer
// nothing more.
//
// It also gates the changes this node hands to raft as leader (writes and
// membership changes): begin registers one, drain refuses new ones and
// lets those registered finish before raft shuts down, so a closing
// leader answers every change it accepted instead of leaving its outcome
// unknown.
type futureWaits struct {
	mu      sync.Mutex
	stopped bool
	done    chan struct{} // closed by stop
	wg      sync.WaitGroup

	draining bool
	active   int           // changes begun and not yet ended
	idle     chan struct{} // closed when active drops to 0 during drain
}

func newFutureWaits() *futureWaits {
	return &futureWaits{done: make(chan struct{})}
}

// wait returns f's error, or ctx's when ctx ends first. In that case the
// operation goes on inside raft and the caller must treat its outcome as
// unknown. Once stop has run, a future raft never answered reports
// raft.ErrRaftShutdown, and so may one raft answered just before: both
// mean the outcome is unknown.
func (w *futureWaits) wait(ctx context.Context, f raft.Future) error {
	bound := bindShutdown(f, w.done)
	w.mu.Lock()
	if w.stopped || !bound {
		// After stop the bound Error returns at once. A future of a shape
		// bindShutdown does not know (a raft upgrade) is waited on the way
		// raft intends, untracked, so that it can never hang stop.
		w.mu.Unlock()
		return waitUntracked(ctx, f)
	}
	w.wg.Add(1)
	w.mu.Unlock()

	result := make(chan error, 1)
	go func() {
		defer w.wg.Done()
		result <- f.Error()
	}()
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop releases every waiter and returns when their goroutines have
// ended. Call it after raft.Shutdown has returned.
func (w *futureWaits) stop() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.stopped = true
	w.mu.Unlock()
	close(w.done)
	w.wg.Wait()
}

// begin registers a change about to be handed to raft. It reports false,
// and registers nothing, once drain has begun: the caller must then not
// hand the change to raft, and reports that nothing was done. Every true
// must be matched by one end.
func (w *futureWaits) begin() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.draining {
		return false
	}
	w.active++
	return true
}

// end unregisters a change begun with begin, once its outcome is known.
func (w *futureWaits) end() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.active--
	if w.active == 0 && w.idle != nil {
		close(w.idle)
		w.idle = nil
	}
}

// drain makes begin refuse from now on and waits until every change begun
// before has ended, or d has passed. It reports whether they all ended.
// Call it before raft shuts down.
func (w *futureWaits) drain(d time.Duration) bool {
	w.mu.Lock()
	w.draining = true
	if w.active == 0 {
		w.mu.Unlock()
		return true
	}
	if w.idle == nil {
		w.idle = make(chan struct{})
	}
	idle := w.idle
	w.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-idle:
		return true
	case <-t.C:
		return false
	}
}

func waitUntracked(ctx context.Context, f raft.Future) error {
	if ctx.Done() == nil {
		return f.Error()
	}
	result := make(chan error, 1)
	go func() { result <- f.Error() }()
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

var shutdownChType = reflect.TypeFor[chan struct{}]()

// shutdownChFields caches, per future type, the index path of its
// ShutdownCh field, or nil when it has none: FieldByName walks embedded
// structs and allocates, which showed as 5% of the CPU on the Apply path at
// 20k writes/s.
var shutdownChFields sync.Map // reflect.Type → []int

func shutdownChField(t reflect.Type) []int {
	if idx, ok := shutdownChFields.Load(t); ok {
		return idx.([]int)
	}
	var idx []int
	if f, ok := t.FieldByName("ShutdownCh"); ok && f.IsExported() && f.Type == shutdownChType {
		idx = f.Index
	}
	shutdownChFields.Store(t, idx)
	return idx
}

// bindShutdown sets f's ShutdownCh to ch unless raft already set one, and
// reports whether f's Error now returns once ch (or raft's own channel)
// closes. It must run before anyone calls f.Error: Error reads the field.
// Futures that resolve at once (raft's errorFuture) are not pointers and
// report false, which is harmless.
func bindShutdown(f raft.Future, ch chan struct{}) bool {
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return false
	}
	idx := shutdownChField(v.Elem().Type())
	if idx == nil {
		return false
	}
	field := v.Elem().FieldByIndex(idx)
	if !field.CanSet() {
		return false
	}
	if field.IsNil() {
		field.Set(reflect.ValueOf(ch))
	}
	return true
}
