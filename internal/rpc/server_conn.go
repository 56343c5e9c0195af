package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/raftkit/raftkit/internal/wire"
)

// serverConn serves the requests of one connection.
type serverConn struct {
	s      *Server
	conn   net.Conn
	ctx    context.Context // cancelled when the conn dies or the server closes
	cancel context.CancelFunc
	slots  chan struct{} // one token per request in flight
	bytes  *budget       // MaxInFlightBytesPerConn
	wmu    sync.Mutex    // serialises response writes
	w      wire.Writer   // guarded by wmu

	handlers sync.WaitGroup

	noticeSent bool // a notice for a bad frame went out (serve's goroutine only)

	stop     chan struct{} // closed by stopReading
	stopOnce sync.Once
	ended    chan struct{} // closed when serve returns
}

func newServerConn(s *Server, conn net.Conn) *serverConn {
	ctx, cancel := context.WithCancel(s.ctx)
	return &serverConn{s: s, conn: conn, ctx: ctx, cancel: cancel, w: wire.Writer{W: conn},
		slots: make(chan struct{}, s.opts.MaxInFlightPerConn),
		bytes: newBudget(int64(s.opts.MaxInFlightBytesPerConn)),
		stop:  make(chan struct{}), ended: make(chan struct{})}
}

// stopReading makes serve read no further request (Server.Close): a read
// under way fails at once, and serve then lets the handlers of what it
// read answer before it sends the going-away notice.
func (c *serverConn) stopReading() {
	c.stopOnce.Do(func() {
		close(c.stop)
		c.conn.SetReadDeadline(time.Unix(1, 0))
	})
}

func (c *serverConn) stopping() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// goAwayNotice tells the client that the server closes and read none of
// the requests it has not answered.
func goAwayNotice() wire.Frame {
	return statusFrame(0, wire.CodeClosed, "server closing; every request without an answer was not read")
}

// serve reads requests and starts a handler for each, until the connection
// fails; then it closes the connection and waits for its handlers. A
// request's body is read only once its bytes fit the connection's and the
// server's budgets.
//
// When the server closes (stopReading), serve waits for the handlers of
// every request it read to answer and then sends the going-away notice,
// unless Server.Close closed the connection first.
func (c *serverConn) serve() {
	defer c.s.wg.Done()
	defer c.s.connDone(c)
	defer close(c.ended)
	handlerCtx := c.ctx
	if cc := c.s.opts.ConnContext; cc != nil {
		handlerCtx = cc(c.ctx, c.conn)
	}
	r := bufio.NewReaderSize(c.conn, 32<<10)
	for c.acquire() {
		h, err := wire.ReadHeader(r, c.s.opts.MaxBody)
		if err != nil {
			<-c.slots
			c.readFailed(err)
			break
		}
		if c.stopping() {
			// Stopped between frames, the header read from the buffer:
			// this request is not handled, the notice covers it.
			<-c.slots
			break
		}
		cost := int64(h.BodyLen) + requestOverhead
		if !c.reserve(cost) {
			<-c.slots
			break
		}
		req, err := wire.ReadBody(r, h)
		if err != nil {
			c.unreserve(cost)
			<-c.slots
			c.readFailed(err)
			break
		}
		if c.stopping() {
			c.unreserve(cost)
			<-c.slots
			break
		}
		c.handlers.Add(1)
		if inline := c.s.opts.Inline; inline != nil && inline(req.Type) {
			c.handle(handlerCtx, req, cost)
			continue
		}
		go c.handle(handlerCtx, req, cost)
	}
	if c.stopping() && !c.noticeSent {
		c.handlers.Wait()
		c.closeWithNotice(goAwayNotice())
	}
	c.cancel()
	c.conn.Close()
	c.handlers.Wait()
}

// reserve takes cost bytes from the connection's budget, then the
// server's, waiting while either is short. It reports false when the
// connection is done first.
func (c *serverConn) reserve(cost int64) bool {
	if !c.bytes.tryTake(cost) {
		c.s.throttled.Add(1)
		if !c.bytes.take(c.ctx, cost) {
			return false
		}
	}
	if !c.s.bytes.tryTake(cost) {
		c.s.throttled.Add(1)
		if !c.s.bytes.take(c.ctx, cost) {
			c.bytes.give(cost)
			return false
		}
	}
	return true
}

func (c *serverConn) unreserve(cost int64) {
	c.s.bytes.give(cost)
	c.bytes.give(cost)
}

// acquire takes an in-flight slot, waiting while MaxInFlightPerConn
// requests are being handled. It reports false when the connection is
// done.
func (c *serverConn) acquire() bool {
	select {
	case c.slots <- struct{}{}:
		return true
	default:
	}
	c.s.throttled.Add(1)
	select {
	case c.slots <- struct{}{}:
		return true
	case <-c.ctx.Done():
		return false
	case <-c.stop:
		return false
	}
}

// readFailed logs why reading stopped and, for a bad frame, tells the
// client before the connection is closed.
func (c *serverConn) readFailed(err error) {
	remote := c.conn.RemoteAddr()
	switch {
	case c.stopping() && errors.Is(err, os.ErrDeadlineExceeded):
		// Server.Close stopped the reading; serve sends the notice.
	case errors.Is(err, wire.ErrFrameTooLarge):
		c.s.logger.Warn("closing RPC connection: request frame too large", "remote", remote, "error", err)
		c.noticeSent = true
		c.closeWithNotice(statusFrame(0, wire.CodeTooLarge, err.Error()))
	case errors.Is(err, wire.ErrMalformed):
		c.s.logger.Warn("closing RPC connection: malformed frame", "remote", remote, "error", err)
		c.noticeSent = true
		c.closeWithNotice(statusFrame(0, wire.CodeBadRequest, err.Error()))
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), c.ctx.Err() != nil:
		c.s.logger.Debug("RPC connection closed", "remote", remote)
	default:
		c.s.logger.Debug("RPC connection failed", "remote", remote, "error", err)
	}
}

// Bounds of the lingering close after a bad frame.
const (
	lingerTimeout = time.Second
	lingerMax     = 1 << 20
)

// closeWithNotice sends the ID-0 notice, then half-closes and drains what
// the client is still sending for a short while before the caller closes.
// Closing a socket with unread input makes the kernel send a reset, which
// can destroy the notice before the client reads it.
func (c *serverConn) closeWithNotice(notice wire.Frame) {
	if !c.write(notice) {
		return
	}
	cw, ok := c.conn.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	if c.conn.SetReadDeadline(time.Now().Add(lingerTimeout)) == nil {
		io.CopyN(io.Discard, c.conn, lingerMax)
	}
}

// handle runs the handler for one request, writes its response and gives
// back the request's slot and bytes.
func (c *serverConn) handle(ctx context.Context, req wire.Frame, cost int64) {
	defer c.handlers.Done()
	defer func() {
		c.unreserve(cost)
		<-c.slots
	}()
	resp := c.call(ctx, req)
	resp.ID = req.ID
	if len(resp.Body) > c.s.opts.MaxBody {
		c.s.logger.Warn("response too large; sending an error instead",
			"type", resp.Type, "size", len(resp.Body), "max_body", c.s.opts.MaxBody)
		resp = statusFrame(req.ID, wire.CodeTooLarge,
			fmt.Sprintf("response of %d bytes exceeds the limit of %d", len(resp.Body), c.s.opts.MaxBody))
	}
	c.write(resp)
}

// call runs the handler, turning a panic into a CodeInternal answer.
func (c *serverConn) call(ctx context.Context, req wire.Frame) (resp wire.Frame) {
	defer func() {
		if p := recover(); p != nil {
			c.s.logger.Error("RPC handler panicked", "type", req.Type, "panic", p, "stack", string(debug.Stack()))
			resp = statusFrame(req.ID, wire.CodeInternal, "internal error")
		}
	}()
	return c.s.handler(ctx, req)
}

// write sends one frame and reports whether it was written; a failed write
// kills the connection.
func (c *serverConn) write(f wire.Frame) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.conn.SetWriteDeadline(time.Now().Add(c.s.opts.WriteTimeout)); err == nil {
		err = c.w.WriteFrame(f)
		if err == nil {
			return true
		}
		if c.ctx.Err() == nil {
			c.s.logger.Debug("closing RPC connection: write failed", "remote", c.conn.RemoteAddr(), "error", err)
		}
	}
	c.conn.Close()
	return false
}
