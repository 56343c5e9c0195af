package rpc

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/raftkit/raftkit/internal/wire"
)

// Bounds of the automatic hedge delay of a Multicall (see
// MulticallOptions.HedgeAfter).
const (
	MinHedgeAfter = 200 * time.Microsecond
	MaxHedgeAfter = time.Second
)

// MulticallOptions tune a Multicall. The zero value sends the request to
// every address at once.
type MulticallOptions struct {
	// First, when between 1 and len(addrs)-1, sends the request at once
	// only to the First addresses whose recent Multicall round trips were
	// the shortest (an address with none measured counts as fastest). The
	// others are sent to when a call sent earlier ends without an answer,
	// when the caller calls SendRest, when Next is called while no call
	// sent is still out, or once HedgeAfter has passed: a caller that needs
	// First answers does not load the other servers while the fast ones
	// answer, and a stalled one costs it one HedgeAfter.
	First int
	// HedgeAfter is how long Next waits for the first calls before it
	// sends to the other addresses. 0 means three times the longest recent
	// round trip among the addresses sent to first, within
	// [MinHedgeAfter, MaxHedgeAfter].
	HedgeAfter time.Duration
}

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

// Multicall is a set of calls started together by Client.Multicall, whose
// replies are received, in the order they arrive, with Next. It is meant
// for one goroutine: its methods must not be called concurrently.
type Multicall struct {
	c     *Client
	ctx   context.Context
	addrs []string
	req   wire.Frame
	ch    chan result // at most one result per call, tagged with its index
	calls []mcall
	order []int // indexes of addrs, the order in which they are sent to
	sent  int   // order[:sent] have been sent
	out   int   // calls sent whose reply Next has not returned

	hedge   time.Duration // 0: no timed hedge
	started time.Time
	timer   *time.Timer // nil until Next waits with calls unsent

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
	sentAt   time.Time
	returned bool // Next has returned its reply
}

// Multicall sends req (its ID is replaced by one the client chooses) to
// the Servers at addrs, all at once or, with MulticallOptions.First, to
// the fastest first, and returns without waiting for an answer; Next then
// yields the replies as they arrive, so a caller that needs only some of
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
func (c *Client) Multicall(ctx context.Context, addrs []string, req wire.Frame, o MulticallOptions) *Multicall {
	m := &Multicall{
		c:     c,
		ctx:   ctx,
		addrs: addrs,
		req:   req,
		ch:    make(chan result, len(addrs)),
		calls: make([]mcall, len(addrs)),
		order: make([]int, len(addrs)),
	}
	for i := range m.order {
		m.order[i] = i
	}
	first := len(addrs)
	if o.First > 0 && o.First < len(addrs) {
		first = o.First
		m.started = time.Now()
		m.hedge = c.orderByRTT(addrs, m.order, first, o.HedgeAfter)
	}
	m.send(first)
	return m
}

// orderByRTT sorts order, indexes of addrs, by their addresses' recent
// round trips, shortest first, and returns the hedge delay for sending to
// the first of them: hedge when positive, else 3× the longest of their
// round trips, within [MinHedgeAfter, MaxHedgeAfter].
func (c *Client) orderByRTT(addrs []string, order []int, first int, hedge time.Duration) time.Duration {
	rtts := make([]time.Duration, len(addrs))
	c.mu.Lock()
	for i, a := range addrs {
		if p := c.peers[a]; p != nil {
			rtts[i] = p.rtt
		}
	}
	c.mu.Unlock()
	for i := 1; i < len(order); i++ { // insertion sort: a handful of peers
		for j := i; j > 0 && rtts[order[j]] < rtts[order[j-1]]; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	if hedge > 0 {
		return hedge
	}
	return min(max(3*rtts[order[first-1]], MinHedgeAfter), MaxHedgeAfter)
}

// recordRTT folds one round trip to addr into its smoothed value; a lower
// bound (a call abandoned after d) only ever raises it.
func (c *Client) recordRTT(addr string, d time.Duration, lowerBound bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.peers[addr]
	switch {
	case p == nil, lowerBound && d <= p.rtt:
	case p.rtt == 0:
		p.rtt = d
	default:
		p.rtt += (d - p.rtt) / 4
	}
}

// send sends to the addresses order[m.sent:upTo].
func (m *Multicall) send(upTo int) {
	if upTo <= m.sent {
		return
	}
	batch := m.order[m.sent:upTo]
	m.sent = upTo
	m.out += len(batch)
	if len(m.req.Body) > m.c.opts.MaxBody {
		err := fmt.Errorf("%w: request body of %d bytes exceeds the limit of %d",
			wire.ErrFrameTooLarge, len(m.req.Body), m.c.opts.MaxBody)
		for _, i := range batch {
			m.ch <- result{err: notSent(m.addrs[i], err), tag: i}
		}
		return
	}
	if err := m.ctx.Err(); err != nil {
		for _, i := range batch {
			m.ch <- result{err: notSent(m.addrs[i], err), tag: i}
		}
		return
	}
	now := time.Now()
	for _, i := range batch {
		m.calls[i].sentAt = now
		if cc := m.c.quietConn(m.addrs[i]); cc != nil {
			if id, ok := cc.trySend(m.req, waiter{ch: m.ch, tag: i}); ok {
				m.calls[i].cc, m.calls[i].id = cc, id
				continue
			}
		}
		m.goCall(i)
	}
}

// SendRest sends the request to every address it has not been sent to
// yet. It is a no-op when there is none, or after Close.
func (m *Multicall) SendRest() {
	if !m.closed {
		m.send(len(m.addrs))
	}
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
func (m *Multicall) goCall(i int) {
	if m.cancel == nil {
		var ctx context.Context
		ctx, m.cancel = context.WithCancel(m.ctx)
		m.ctx = ctx
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f, err := m.c.Call(m.ctx, m.addrs[i], m.req)
		m.ch <- result{frame: f, err: err, tag: i}
	}()
}

// Next blocks until the reply of a call not yet returned arrives, and
// returns it; meanwhile it sends to the addresses held back by
// MulticallOptions.First when their time comes. Once ctx is done it
// returns at once, for each call still unanswered, a Reply whose Err wraps
// ErrNoResponse (or ErrNotSent) and ctx.Err(). ok is false when every
// address's reply has been returned, or after Close.
func (m *Multicall) Next() (r Reply, ok bool) {
	for !m.closed {
		if m.out == 0 {
			if m.sent == len(m.addrs) {
				break
			}
			m.SendRest() // the caller wants more than the first calls gave
			continue
		}
		var hedge <-chan time.Time
		if m.sent < len(m.addrs) && m.hedge > 0 {
			if m.timer == nil {
				wait := m.hedge - time.Since(m.started)
				if wait <= 0 {
					m.SendRest()
					continue
				}
				m.timer = time.NewTimer(wait)
			}
			hedge = m.timer.C
		}
		var res result
		select {
		case res = <-m.ch:
		case <-hedge:
			m.SendRest()
			continue
		case <-m.ctx.Done():
			select {
			case res = <-m.ch: // prefer an answer that did arrive
			default:
				if m.sent < len(m.addrs) {
					m.SendRest() // yields ErrNotSent replies at once
					continue
				}
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
		m.out--
		if res.err == nil {
			m.c.recordRTT(m.addrs[res.tag], time.Since(c.sentAt), false)
		} else {
			m.SendRest() // this one will not answer: try the others
		}
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
// answers are discarded on arrival; the time they went unanswered counts
// toward their addresses' round trips, so a stalled server is sent to
// later, not first) and waits for the goroutines the Multicall started,
// which it cancels. Next returns false afterwards. Close is idempotent.
func (m *Multicall) Close() {
	if m.closed {
		return
	}
	m.closed = true
	if m.timer != nil {
		m.timer.Stop()
	}
	now := time.Now()
	for _, i := range m.order[:m.sent] {
		c := &m.calls[i]
		if c.returned {
			continue
		}
		if c.cc != nil {
			c.cc.forget(c.id)
		}
		m.c.recordRTT(m.addrs[i], now.Sub(c.sentAt), true)
	}
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
}
