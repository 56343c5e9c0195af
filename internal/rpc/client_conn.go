package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftkit/raftkit/internal/wire"
)

// errConnGone reports that a connection died before a request was written
// to it; Call then tries another.
var errConnGone = errors.New("rpc: connection gone")

// errServerGoingAway is the server's going-away notice (an ID-0 frame with
// CodeClosed, see Server.Close): it answered every request it read, so
// the calls still waiting on the connection were not read.
var errServerGoingAway = errors.New("rpc: server closing")

// result is what a waiting call receives. tag tells the calls of a
// Multicall, which share one channel, apart.
type result struct {
	frame wire.Frame
	err   error
	tag   int
}

// waiter is where a call's result goes.
type waiter struct {
	ch  chan result
	tag int
}

// resultChans recycles the channels of Calls. A channel goes back only
// when it is empty and no result can be sent to it any more: its result
// was received, or its call was forgotten before a result was due.
var resultChans = sync.Pool{New: func() any { return make(chan result, 1) }}

// clientConn is one multiplexed connection of a Client.
type clientConn struct {
	client *Client
	addr   string
	conn   net.Conn
	wlock  chan struct{} // capacity 1: a write lock a waiting call can give up on
	w      wire.Writer   // guarded by wlock
	done   chan struct{} // closed when the connection dies

	// unanswered counts the requests written for which no response frame
	// has been read yet, including those of calls that gave up. While it
	// is 0 the server has read everything sent, so a small write does not
	// block on a full socket buffer (see Client.Multicall).
	unanswered atomic.Int64

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]waiter // nil once dead
}

func newClientConn(c *Client, addr string, conn net.Conn) *clientConn {
	return &clientConn{
		client:  c,
		addr:    addr,
		conn:    conn,
		wlock:   make(chan struct{}, 1),
		w:       wire.Writer{W: conn},
		done:    make(chan struct{}),
		pending: make(map[uint64]waiter),
	}
}

// load is the number of calls waiting on the connection or, when larger,
// of requests the server has not answered yet (a call that gave up leaves
// its request with the server); -1 once the connection is dead.
func (cc *clientConn) load() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.pending == nil {
		return -1
	}
	return max(len(cc.pending), int(cc.unanswered.Load()))
}

// send registers a call and writes its request. An error means the request
// was not (completely) written, so the server cannot have handled it.
func (cc *clientConn) send(ctx context.Context, req wire.Frame) (uint64, chan result, error) {
	ch := resultChans.Get().(chan result)
	id, ok := cc.register(waiter{ch: ch})
	if !ok {
		resultChans.Put(ch)
		return 0, nil, errConnGone
	}

	var err error
	select {
	case cc.wlock <- struct{}{}:
		var delivered bool
		if delivered, err = cc.writeLocked(id, req); err == nil {
			return id, ch, nil
		}
		if !delivered {
			resultChans.Put(ch)
		}
		return 0, nil, err
	case <-ctx.Done():
		err = ctx.Err()
	case <-cc.done:
		err = errConnGone
	}
	if cc.forget(id) {
		resultChans.Put(ch)
	}
	return 0, nil, err
}

// register adds a call to the pending ones and returns its ID; false means
// the connection is dead.
func (cc *clientConn) register(w waiter) (uint64, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.pending == nil {
		return 0, false
	}
	cc.nextID++
	cc.pending[cc.nextID] = w
	return cc.nextID, true
}

// writeLocked writes the request of the registered call id; the caller
// holds the write lock, which writeLocked releases. On an error the
// request was not (completely) written and the call is forgotten; a failed
// write kills the connection. delivered reports that the connection died
// before the call could be forgotten, so its waiter got (or gets) a
// result all the same.
func (cc *clientConn) writeLocked(id uint64, req wire.Frame) (delivered bool, err error) {
	select {
	case <-cc.done:
		<-cc.wlock
		return !cc.forget(id), errConnGone
	default:
	}
	req.ID = id
	cc.unanswered.Add(1)
	err = cc.conn.SetWriteDeadline(time.Now().Add(cc.client.opts.WriteTimeout))
	if err == nil {
		err = cc.w.WriteFrame(req)
	}
	<-cc.wlock
	if err != nil {
		delivered = !cc.forget(id)
		cc.fail(fmt.Errorf("writing a request: %w", err))
		return delivered, err
	}
	return false, nil
}

// trySend writes req for a call whose result goes to w, but only when that
// cannot block: the connection is live, the server has answered every
// request written to it, and no other write is under way. It returns the
// call's ID, or false when it sent nothing (the caller sends another way).
func (cc *clientConn) trySend(req wire.Frame, w waiter) (uint64, bool) {
	if cc.unanswered.Load() != 0 {
		return 0, false
	}
	select {
	case cc.wlock <- struct{}{}:
	default:
		return 0, false
	}
	id, ok := cc.register(w)
	if !ok {
		<-cc.wlock
		return 0, false
	}
	if delivered, err := cc.writeLocked(id, req); err != nil && !delivered {
		return 0, false
	}
	// Written, or the connection died under the write and w has its
	// result (ErrNoResponse) already: either way w gets exactly one.
	return id, true
}

// wait blocks until the call's response arrives, the connection dies or
// ctx ends.
func (cc *clientConn) wait(ctx context.Context, id uint64, ch chan result) (wire.Frame, error) {
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		if cc.forget(id) {
			r.err = noResponse(cc.addr, ctx.Err())
		} else {
			// Delivered while we were giving up: the result is being
			// sent, and its send cannot block.
			r = <-ch
		}
	}
	resultChans.Put(ch)
	return r.frame, r.err
}

// forget drops a call; a response that arrives for it later is discarded.
// It reports whether the call was still pending (false: its result has
// been delivered, or is being).
func (cc *clientConn) forget(id uint64) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	_, ok := cc.pending[id]
	if ok {
		delete(cc.pending, id)
	}
	return ok
}

// readLoop delivers responses until the connection fails.
func (cc *clientConn) readLoop() {
	defer cc.client.wg.Done()
	r := bufio.NewReaderSize(cc.conn, 32<<10)
	var notice error // the server's reason for closing, if it gave one
	for {
		f, err := wire.ReadFrame(r, cc.client.opts.MaxBody)
		if err != nil {
			if errors.Is(err, wire.ErrFrameTooLarge) || errors.Is(err, wire.ErrMalformed) {
				cc.client.logger.Warn("closing RPC connection: bad response frame", "addr", cc.addr, "error", err)
			}
			if notice != nil {
				err = fmt.Errorf("%w (%v)", notice, err)
			}
			cc.fail(err)
			return
		}
		if f.ID == 0 {
			notice = serverNotice(f)
			continue
		}
		cc.unanswered.Add(-1)
		cc.deliver(f)
	}
}

// serverNotice reads the ID-0 frame a server sends before closing.
func serverNotice(f wire.Frame) error {
	var s wire.Status
	if f.Type != wire.TypeError || s.UnmarshalBinary(f.Body) != nil {
		return fmt.Errorf("server sent an unexpected %v frame with ID 0", f.Type)
	}
	switch s.Code {
	case wire.CodeTooLarge:
		return fmt.Errorf("server closed the connection: %w: %s", wire.ErrFrameTooLarge, s.Message)
	case wire.CodeClosed:
		return fmt.Errorf("%w: %s", errServerGoingAway, s.Message)
	}
	return fmt.Errorf("server closed the connection: %v: %s", s.Code, s.Message)
}

func (cc *clientConn) deliver(f wire.Frame) {
	cc.mu.Lock()
	w, ok := cc.pending[f.ID]
	delete(cc.pending, f.ID)
	cc.mu.Unlock()
	if !ok {
		cc.client.logger.Trace("discarding a response nobody waits for", "addr", cc.addr, "id", f.ID)
		return
	}
	w.ch <- result{frame: f, tag: w.tag}
}

// fail kills the connection once: it closes it, fails every waiting call
// with ErrNoResponse wrapping cause (ErrNotSent after the server's
// going-away notice), and evicts it from the client.
func (cc *clientConn) fail(cause error) {
	cc.mu.Lock()
	if cc.pending == nil {
		cc.mu.Unlock()
		return
	}
	waiting := cc.pending
	cc.pending = nil
	close(cc.done)
	cc.mu.Unlock()

	cc.conn.Close()
	// Evict before waking the callers, so a call they make next cannot
	// pick this connection again.
	cc.client.evict(cc)
	if !errors.Is(cause, ErrClosed) {
		cc.client.logger.Debug("RPC connection lost", "addr", cc.addr, "error", cause, "failed_calls", len(waiting))
	}
	outcome := noResponse
	if errors.Is(cause, errServerGoingAway) {
		// The server answered everything it read before the notice.
		outcome = notSent
	}
	for _, w := range waiting {
		w.ch <- result{err: outcome(cc.addr, cause), tag: w.tag}
	}
}
