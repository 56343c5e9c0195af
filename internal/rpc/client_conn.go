package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/raftkit/raftkit/internal/wire"
)

// errConnGone reports that a connection died before a request was written
// to it; Call then tries another.
var errConnGone = errors.New("rpc: connection gone")

// result is what a waiting call receives.
type result struct {
	frame wire.Frame
	err   error
}

// clientConn is one multiplexed connection of a Client.
type clientConn struct {
	client *Client
	addr   string
	conn   net.Conn
	wlock  chan struct{} // capacity 1: a write lock a waiting call can give up on
	done   chan struct{} // closed when the connection dies

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan result // nil once dead
}

func newClientConn(c *Client, addr string, conn net.Conn) *clientConn {
	return &clientConn{
		client:  c,
		addr:    addr,
		conn:    conn,
		wlock:   make(chan struct{}, 1),
		done:    make(chan struct{}),
		pending: make(map[uint64]chan result),
	}
}

// load is the number of calls waiting on the connection, or -1 once it is
// dead.
func (cc *clientConn) load() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.pending == nil {
		return -1
	}
	return len(cc.pending)
}

// send registers a call and writes its request. An error means the request
// was not (completely) written, so the server cannot have handled it.
func (cc *clientConn) send(ctx context.Context, req wire.Frame) (uint64, chan result, error) {
	cc.mu.Lock()
	if cc.pending == nil {
		cc.mu.Unlock()
		return 0, nil, errConnGone
	}
	cc.nextID++
	id := cc.nextID
	ch := make(chan result, 1)
	cc.pending[id] = ch
	cc.mu.Unlock()

	select {
	case cc.wlock <- struct{}{}:
	case <-ctx.Done():
		cc.forget(id)
		return 0, nil, ctx.Err()
	case <-cc.done:
		cc.forget(id)
		return 0, nil, errConnGone
	}
	select {
	case <-cc.done:
		<-cc.wlock
		cc.forget(id)
		return 0, nil, errConnGone
	default:
	}
	req.ID = id
	err := cc.conn.SetWriteDeadline(time.Now().Add(cc.client.opts.WriteTimeout))
	if err == nil {
		err = wire.WriteFrame(cc.conn, req)
	}
	<-cc.wlock
	if err != nil {
		cc.forget(id)
		cc.fail(fmt.Errorf("writing a request: %w", err))
		return 0, nil, err
	}
	return id, ch, nil
}

// wait blocks until the call's response arrives, the connection dies or
// ctx ends.
func (cc *clientConn) wait(ctx context.Context, id uint64, ch chan result) (wire.Frame, error) {
	select {
	case r := <-ch:
		return r.frame, r.err
	case <-ctx.Done():
		cc.forget(id)
		select {
		case r := <-ch: // delivered while we were giving up
			return r.frame, r.err
		default:
		}
		return wire.Frame{}, noResponse(cc.addr, ctx.Err())
	}
}

// forget drops a call; a response that arrives for it later is discarded.
func (cc *clientConn) forget(id uint64) {
	cc.mu.Lock()
	if cc.pending != nil {
		delete(cc.pending, id)
	}
	cc.mu.Unlock()
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
		cc.deliver(f)
	}
}

// serverNotice reads the ID-0 frame a server sends before closing.
func serverNotice(f wire.Frame) error {
	var s wire.Status
	if f.Type != wire.TypeError || s.UnmarshalBinary(f.Body) != nil {
		return fmt.Errorf("server sent an unexpected %v frame with ID 0", f.Type)
	}
	if s.Code == wire.CodeTooLarge {
		return fmt.Errorf("server closed the connection: %w: %s", wire.ErrFrameTooLarge, s.Message)
	}
	return fmt.Errorf("server closed the connection: %v: %s", s.Code, s.Message)
}

func (cc *clientConn) deliver(f wire.Frame) {
	cc.mu.Lock()
	ch := cc.pending[f.ID]
	delete(cc.pending, f.ID)
	cc.mu.Unlock()
	if ch == nil {
		cc.client.logger.Trace("discarding a response nobody waits for", "addr", cc.addr, "id", f.ID)
		return
	}
	ch <- result{frame: f}
}

// fail kills the connection once: it closes it, fails every waiting call
// with ErrNoResponse wrapping cause, and evicts it from the client.
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
	for _, ch := range waiting {
		ch <- result{err: noResponse(cc.addr, cause)}
	}
}
