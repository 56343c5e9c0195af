package rpc

import (
	"context"
	"fmt"
	"sync"

	"github.com/raftkit/raftkit/internal/wire"
)

// Reply is the outcome of one call of a Multicall.
type Reply struct {
	// Index is the position of the call's address in the addrs given to
	// Multicall.
	Index int
	// Frame is the response, whatever its Type, when Err is nil.
	Frame wire.Frame
	// Err is what Call would have returned for this call: it wraps exactly
	// one of ErrNotSent and ErrNoResponse.
	Err error
}

// Multicall is a set of calls sent together by Client.Multicall, whose
// replies are received, in the order they arrive, with Next. It is meant
// for one goroutine: its methods must not be called concurrently.
type Multicall struct {
	c     *Client
	ctx   context.Context
	addrs []string
	ch    chan result // exactly one result per call, tagged with its index
	calls []mcall
	left  int // calls whose reply Next has not returned yet

	// Calls that could not be written at once run as a Call in a
	// goroutine of their own, under a ctx that Close cancels.
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed bool
}

// mcall is the state of one call of a Multicall.
type mcall struct {
	cc       *clientConn // written here by Multicall itself; nil for a goroutine's call
	id       uint64
	returned bool // Next has returned its reply
}

// Multicall sends req (its ID is replaced by one the client chooses) to
// every address in addrs and returns at once; Next then yields one Reply
// per address as the answers arrive, so a caller that needs only some of
// them (a quorum) can stop waiting and Close the rest.
//
// It writes the requests from the calling goroutine, without a goroutine
// per address, to every address with a live connection on which nothing
// is unanswered and no other write is under way: such a write cannot
// block. A call to any other address (not yet dialed, busy, or with
// requests unanswered, perhaps because the peer has stalled) runs as a
// Call in a goroutine of its own, so that it delays neither the other
// writes nor the replies.
//
// ctx bounds every call as it bounds a Call. The caller must Close the
// Multicall when done with it, after which replies still to come are
// discarded.
func (c *Client) Multicall(ctx context.Context, addrs []string, req wire.Frame) *Multicall {
	m := &Multicall{
		c:     c,
		ctx:   ctx,
		addrs: addrs,
		ch:    make(chan result, len(addrs)),
		calls: make([]mcall, len(addrs)),
		left:  len(addrs),
	}
	if len(req.Body) > c.opts.MaxBody {
		err := fmt.Errorf("%w: request body of %d bytes exceeds the limit of %d",
			wire.ErrFrameTooLarge, len(req.Body), c.opts.MaxBody)
		for i, addr := range addrs {
			m.ch <- result{err: notSent(addr, err), tag: i}
		}
		return m
	}
	if err := ctx.Err(); err != nil {
		for i, addr := range addrs {
			m.ch <- result{err: notSent(addr, err), tag: i}
		}
		return m
	}
	for i, addr := range addrs {
		if cc := c.quietConn(addr); cc != nil {
			if id, ok := cc.trySend(req, waiter{ch: m.ch, tag: i}); ok {
				m.calls[i].cc, m.calls[i].id = cc, id
				continue
			}
		}
		m.goCall(i, req)
	}
	return m
}

// quietConn returns a live connection to addr on which every request
// written has been answered, or nil.
func (c *Client) quietConn(addr string) *clientConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	if p := c.peers[addr]; p != nil {
		for _, cc := range p.conns {
			if cc.unanswered.Load() == 0 && cc.load() >= 0 {
				return cc
			}
		}
	}
	return nil
}

// goCall runs call i as a Call in a goroutine, under a ctx Close cancels.
func (m *Multicall) goCall(i int, req wire.Frame) {
	if m.cancel == nil {
		var ctx context.Context
		ctx, m.cancel = context.WithCancel(m.ctx)
		m.ctx = ctx
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f, err := m.c.Call(m.ctx, m.addrs[i], req)
		m.ch <- result{frame: f, err: err, tag: i}
	}()
}

// Next blocks until the reply of a call not yet returned arrives, and
// returns it. Once ctx is done it returns at once, for each call still
// unanswered, a Reply whose Err wraps ErrNoResponse (or ErrNotSent) and
// ctx.Err(). ok is false when every call's reply has been returned, or
// after Close.
func (m *Multicall) Next() (r Reply, ok bool) {
	for !m.closed && m.left > 0 {
		var res result
		select {
		case res = <-m.ch:
		case <-m.ctx.Done():
			select {
			case res = <-m.ch: // prefer an answer that did arrive
			default:
				if i := m.abandonOne(); i >= 0 {
					res = result{err: noResponse(m.addrs[i], m.ctx.Err()), tag: i}
				} else {
					// Only goroutines' calls are left; they end promptly
					// now that ctx is done, each with its own result.
					res = <-m.ch
				}
			}
		}
		c := &m.calls[res.tag]
		if c.returned {
			continue // answered after Next had given up on it
		}
		c.returned = true
		m.left--
		return Reply{Index: res.tag, Frame: res.frame, Err: res.err}, true
	}
	return Reply{}, false
}

// abandonOne forgets a call written by Multicall itself whose reply has
// not been returned, and returns its index, or -1 when there is none.
func (m *Multicall) abandonOne() int {
	for i := range m.calls {
		if c := &m.calls[i]; !c.returned && c.cc != nil {
			c.cc.forget(c.id)
			return i
		}
	}
	return -1
}

// Close abandons the calls whose replies Next has not returned (their
// answers are discarded on arrival) and waits for the goroutines the
// Multicall started, which it cancels. Next returns false afterwards.
// Close is idempotent.
func (m *Multicall) Close() {
	if m.closed {
		return
	}
	m.closed = true
	for i := range m.calls {
		if c := &m.calls[i]; !c.returned && c.cc != nil {
			c.cc.forget(c.id)
		}
	}
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
}
