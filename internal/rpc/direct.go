package rpc

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/raftkit/raftkit/internal/mux"
	"github.com/raftkit/raftkit/internal/wire"
)

// DirectWait bounds how long Multicall.Next waits for an answer on a
// dedicated connection itself (see MulticallOptions.Direct) before it
// hands the wait to a goroutine and waits on its channels as usual; so
// Next notices that its ctx was cancelled within DirectWait at most.
const DirectWait = time.Millisecond

// directConn is a connection of a Client that carries one request at a
// time and has no reader goroutine: the Multicall that wrote the request
// reads the answer itself, or, once it stops waiting for it that way, a
// goroutine of the Client reads it (drain) and delivers it to the
// Multicall if it still waits. A Client keeps at most one per address,
// and only while it has a shared connection to that address.
//
// The connection belongs to one Multicall from acquireDirect until the
// answer has been read and releaseDirect called, by that Multicall or
// its drain; only the owner uses r, w and id.
type directConn struct {
	c    *Client
	addr string
	conn net.Conn
	r    *bufio.Reader
	w    wire.Writer
	id   uint64 // the request written last

	mu     sync.Mutex
	waiter waiter // where drain delivers the answer to request waitID
	waitID uint64 // 0: nobody waits for drain's answer
}

// directReadBuffer is the read buffer of a dedicated connection: it
// carries small answers, one at a time.
const directReadBuffer = 4 << 10

// acquireDirect returns addr's dedicated connection, now owned by the
// caller, when it is idle. Otherwise it returns nil and, when there is
// none and addr has a live shared connection, starts dialing one for
// later calls.
func (c *Client) acquireDirect(addr string) *directConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.peers[addr]
	if c.closed || p == nil {
		return nil
	}
	switch {
	case p.direct != nil:
		if p.directBusy {
			return nil
		}
		p.directBusy = true
		return p.direct
	case p.directDialing || len(p.conns) == 0 || time.Now().Before(p.directRetry):
		return nil
	}
	p.directDialing = true
	c.wg.Add(1)
	go c.dialDirect(addr, p)
	return nil
}

// dialDirectBackoff is how long a Client waits after a failed dial of a
// dedicated connection before it dials another to the same address.
const dialDirectBackoff = time.Second

// dialDirect dials the dedicated connection of p.
func (c *Client) dialDirect(addr string, p *peer) {
	defer c.wg.Done()
	conn, err := c.opts.Dialer.Dial(c.ctx, addr, mux.KindRPC)
	c.mu.Lock()
	defer c.mu.Unlock()
	p.directDialing = false
	switch {
	case err != nil:
		p.directRetry = time.Now().Add(dialDirectBackoff)
		if !c.closed {
			c.logger.Debug("dialing a dedicated RPC connection failed", "addr", addr, "error", err)
		}
	case c.closed || c.peers[addr] != p || len(p.conns) == 0:
		conn.Close() // closed, or the peer went away meanwhile
	default:
		p.direct = &directConn{c: c, addr: addr, conn: conn, r: bufio.NewReaderSize(conn, directReadBuffer), w: wire.Writer{W: conn}}
	}
	c.forgetPeerLocked(addr, p)
}

// releaseDirect gives dc back after its answer was read. When ok is
// false its stream cannot be used any more, and it is closed.
func (c *Client) releaseDirect(dc *directConn, ok bool) {
	c.mu.Lock()
	p := c.peers[dc.addr]
	mine := p != nil && p.direct == dc
	keep := ok && mine && !c.closed && len(p.conns) > 0
	if mine {
		p.directBusy = false
		if !keep {
			p.direct = nil
			c.forgetPeerLocked(dc.addr, p)
		}
	}
	c.mu.Unlock()
	if !keep {
		dc.conn.Close()
	}
}

// closeIdleDirectLocked closes p's dedicated connection when p has no
// shared connection left and the dedicated one is idle: nothing reads an
// idle one, so it would not notice that the peer went away. c.mu must be
// held.
func (c *Client) closeIdleDirectLocked(p *peer) {
	if len(p.conns) == 0 && p.direct != nil && !p.directBusy {
		p.direct.conn.Close()
		p.direct = nil
	}
}

// send writes req as the connection's next request and returns its ID.
// On an error the connection has been released as failed: the request
// was not (completely) written.
func (dc *directConn) send(req wire.Frame) (uint64, error) {
	dc.id++
	req.ID = dc.id
	err := dc.conn.SetWriteDeadline(time.Now().Add(dc.c.opts.WriteTimeout))
	if err == nil {
		err = dc.w.WriteFrame(req)
	}
	if err != nil {
		dc.c.releaseDirect(dc, false)
		return 0, err
	}
	return req.ID, nil
}

// await reads the answer to request id if a whole frame of it arrives by
// deadline. waiting reports that none did: the answer is still owed and
// the stream intact (nothing of it was consumed), for drain to read. Any
// other outcome releases the connection.
func (dc *directConn) await(id uint64, deadline time.Time) (f wire.Frame, waiting bool, err error) {
	if err = dc.conn.SetReadDeadline(deadline); err == nil {
		_, err = dc.r.Peek(1)
	}
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) && dc.c.ctx.Err() == nil {
			return wire.Frame{}, true, nil
		}
		return dc.finish(id, wire.Frame{}, err)
	}
	// No deadline left armed: its timer would fire for nothing.
	dc.conn.SetReadDeadline(time.Time{})
	if !dc.frameBuffered() {
		// The rest is still on its way: reading it might block past
		// deadline, and a read cut short would lose the stream.
		return wire.Frame{}, true, nil
	}
	f, err = wire.ReadFrame(dc.r, dc.c.opts.MaxBody)
	return dc.finish(id, f, err)
}

// frameBuffered reports whether the read buffer holds a whole frame, so
// that reading it cannot block.
func (dc *directConn) frameBuffered() bool {
	n := dc.r.Buffered()
	if n < wire.HeaderSize {
		return false
	}
	b, _ := dc.r.Peek(4)
	return uint64(n) >= 4+uint64(binary.BigEndian.Uint32(b))
}

// finish turns what was read for request id into the call's outcome and
// releases the connection: kept when it answered id, closed otherwise.
func (dc *directConn) finish(id uint64, f wire.Frame, err error) (wire.Frame, bool, error) {
	switch {
	case err != nil:
		if errors.Is(err, wire.ErrFrameTooLarge) || errors.Is(err, wire.ErrMalformed) {
			dc.c.logger.Warn("closing RPC connection: bad response frame", "addr", dc.addr, "error", err)
		}
		err = noResponse(dc.addr, dc.closedCause(err))
	case f.ID == 0:
		// The server's notice that it closes the connection (see
		// Server.Close); after a going-away notice it did not read id.
		cause := serverNotice(f)
		if errors.Is(cause, errServerGoingAway) {
			err = notSent(dc.addr, dc.closedCause(cause))
		} else {
			err = noResponse(dc.addr, dc.closedCause(cause))
		}
	case f.ID != id:
		err = noResponse(dc.addr, fmt.Errorf("%w: response for request %d while waiting for %d", wire.ErrMalformed, f.ID, id))
	}
	dc.c.releaseDirect(dc, err == nil)
	if err != nil {
		return wire.Frame{}, false, err
	}
	return f, false, nil
}

// closedCause wraps ErrClosed into err once the client is closed.
func (dc *directConn) closedCause(err error) error {
	if dc.c.ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// drainTo hands the wait for request id's answer to a goroutine, which
// delivers it to w unless forget(id) is called first; with deliver false
// nobody waits for it. The goroutine reads for WriteTimeout at most, then
// closes the connection.
func (dc *directConn) drainTo(id uint64, w waiter, deliver bool) {
	if deliver {
		dc.mu.Lock()
		dc.waiter, dc.waitID = w, id
		dc.mu.Unlock()
	}
	dc.c.wg.Add(1)
	go dc.drain(id)
}

func (dc *directConn) drain(id uint64) {
	defer dc.c.wg.Done()
	var f wire.Frame
	err := dc.conn.SetReadDeadline(time.Now().Add(dc.c.opts.WriteTimeout))
	if err == nil {
		f, err = wire.ReadFrame(dc.r, dc.c.opts.MaxBody)
	}
	// Take the waiter before finish releases the connection: the next
	// owner may set its own at once.
	dc.mu.Lock()
	w, ok := dc.waiter, dc.waitID == id
	if ok {
		dc.waiter, dc.waitID = waiter{}, 0
	}
	dc.mu.Unlock()
	f, _, err = dc.finish(id, f, err)
	if ok {
		w.ch <- result{frame: f, err: err, tag: w.tag}
	}
}

// forget stops drain from delivering request id's answer. It reports
// whether it did (false: the answer has been delivered, or is being).
func (dc *directConn) forget(id uint64) bool {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	if dc.waitID != id {
		return false
	}
	dc.waiter, dc.waitID = waiter{}, 0
	return true
}
