package raftsync

import (
	"context"
	"errors"
	"reflect"
	"sync"

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
type futureWaits struct {
	mu      sync.Mutex
	stopped bool
	done    chan struct{} // closed by stop
	wg      sync.WaitGroup
	// waiting holds the channels bound as ShutdownCh by callers with a
	// cancellable ctx; stop closes them. A channel is closed only by
	// whoever removes it from the map, under mu: never twice.
	waiting map[chan struct{}]struct{}
}

func newFutureWaits() *futureWaits {
	return &futureWaits{done: make(chan struct{}), waiting: map[chan struct{}]struct{}{}}
}

// wait returns f's error, or ctx's when ctx ends first. In that case the
// operation goes on inside raft and the caller must treat its outcome as
// unknown. Once stop has run, a future raft never answered reports
// raft.ErrRaftShutdown, and so may one raft answered just before: both
// mean the outcome is unknown.
//
// The caller's goroutine itself waits in f.Error, as with raft alone: no
// goroutine per call. The future's ShutdownCh is bound to a channel that
// closes when ctx ends or stop runs (the node's own channel when ctx
// cannot end), so that Error returns then.
func (w *futureWaits) wait(ctx context.Context, f raft.Future) error {
	if ctx.Done() == nil {
		// Nothing to wait for but raft and stop. A future of a shape
		// bindShutdown does not know (a raft upgrade) is waited on the
		// way raft intends, untracked, so that it can never hang stop.
		bindShutdown(f, w.done)
		return f.Error()
	}
	wt := getWaiter(w)
	switch bindShutdownOwn(f, wt.ch) {
	case bindNone:
		putWaiter(wt)
		return waitUntracked(ctx, f)
	case bindRaft:
		putWaiter(wt)
		return w.waitGoroutine(ctx, f)
	}
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		close(wt.ch) // Error returns at once
		return f.Error()
	}
	w.waiting[wt.ch] = struct{}{}
	w.mu.Unlock()
	stopAfter := context.AfterFunc(ctx, wt.fire)
	err := f.Error()
	if stopAfter() && w.unregister(wt.ch) {
		// Never closed: raft answered. The future keeps a reference to
		// the channel but reads it no more (Error keeps its answer), so
		// the channel serves the next wait.
		putWaiter(wt)
	} else {
		w.release(wt.ch)
	}
	if errors.Is(err, raft.ErrRaftShutdown) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// waiter is the channel one wait binds as a future's ShutdownCh, with the
// function that closes it when ctx ends. Waiters whose channel was never
// closed are reused, so a wait with a cancellable ctx costs only
// context.AfterFunc's allocations.
type waiter struct {
	w    *futureWaits
	ch   chan struct{}
	fire func()
}

var waiters sync.Pool

func getWaiter(w *futureWaits) *waiter {
	wt, _ := waiters.Get().(*waiter)
	if wt == nil {
		wt = &waiter{ch: make(chan struct{})}
		wt.fire = func() { wt.w.release(wt.ch) }
	}
	wt.w = w
	return wt
}

func putWaiter(wt *waiter) {
	wt.w = nil
	waiters.Put(wt)
}

// release closes ch unless stop or an earlier release did.
func (w *futureWaits) release(ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.waiting[ch]; ok {
		delete(w.waiting, ch)
		close(ch)
	}
}

// unregister forgets ch without closing it and reports whether it was
// still open (neither stop nor release had closed it).
func (w *futureWaits) unregister(ch chan struct{}) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.waiting[ch]
	delete(w.waiting, ch)
	return ok
}

// waitGoroutine waits for a future whose ShutdownCh raft set itself (it
// returns at raft's shutdown) on a goroutine, so that ctx can end the
// caller's wait.
func (w *futureWaits) waitGoroutine(ctx context.Context, f raft.Future) error {
	w.mu.Lock()
	if w.stopped {
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
	for ch := range w.waiting {
		delete(w.waiting, ch)
		close(ch)
	}
	w.mu.Unlock()
	close(w.done)
	w.wg.Wait()
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
	return bindShutdownOwn(f, ch) != bindNone
}

// binding says what bindShutdownOwn did.
type binding int

const (
	bindNone binding = iota // f has no ShutdownCh
	bindRaft                // raft had set f's ShutdownCh; left alone
	bindOwn                 // f's ShutdownCh is now ch
)

// bindShutdownOwn is bindShutdown telling whether ch itself was bound.
func bindShutdownOwn(f raft.Future, ch chan struct{}) binding {
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return bindNone
	}
	idx := shutdownChField(v.Elem().Type())
	if idx == nil {
		return bindNone
	}
	field := v.Elem().FieldByIndex(idx)
	if !field.CanSet() {
		return bindNone
	}
	if !field.IsNil() {
		return bindRaft
	}
	field.Set(reflect.ValueOf(ch))
	return bindOwn
}
