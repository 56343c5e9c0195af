package rpc

import (
	"context"
	"slices"
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
	// sent is still out, or once HedgeAfter has passed.
	First int
	// HedgeAfter is how long Next waits for the first calls before it
	// sends to the other addresses. 0 means three times the longest recent
	// round trip among the addresses sent to first, within
	// [MinHedgeAfter, MaxHedgeAfter].
	HedgeAfter time.Duration
	// Direct lets a call that is the only one out (the first of First 1,
	// say) go over the address's dedicated connection, one per address
	// that carries one request at a time: Next then reads its answer
	// itself, without the hand-off from a connection's reader goroutine,
	// for DirectWait at most, after which a goroutine waits for it as for
	// the other calls. When the dedicated connection is busy or not dialed
	// yet (it is dialed in the background once a shared connection to the
	// address exists) the call goes the usual way. Only for requests that
	// are safe to handle twice: a call whose dedicated connection fails
	// before its answer is sent again over a shared connection.
	Direct bool
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
	s     *scratch // nil once closed
	sent  int      // s.order[:sent] have been sent
	out   int      // calls sent whose reply Next has not returned
	owed  int      // results due on s.ch and not received yet

	hedge   bool      // s.timer runs until the rest are sent
	hedgeAt time.Time // when s.timer fires
	direct  bool      // MulticallOptions.Direct

	// syncCall is 1 + the index of the call whose answer Next reads from
	// its dedicated connection itself; 0 when there is none.
	syncCall int

	cancel context.CancelFunc // of the goroutines' calls, once one runs
	wg     sync.WaitGroup
}

// scratch is the state of a Multicall that Close recycles for the next.
type scratch struct {
	ch    chan result // one result per call, tagged with its index
	calls []mcall
	order []int // indexes of addrs, in the order they are sent to
	rtts  []time.Duration
	timer *time.Timer
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// mcall is one call of a Multicall.
type mcall struct {
	cc       *clientConn // written by Multicall itself; nil for a goroutine's call
	dc       *directConn // the dedicated connection it went over, if it did
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
// It writes the requests from the calling goroutine to every address with
// a live connection on which nothing is unanswered and no other write is
// under way: such a write cannot block. A call to any other address (not
// yet dialed, busy, or with requests unanswered, perhaps because the peer
// has stalled) runs as a Call in a goroutine of its own, so that it delays
// neither the other writes nor the replies.
//
// ctx bounds every call as it bounds a Call. The caller must Close the
// Multicall when done with it, after which replies still to come are
// discarded.
func (c *Client) Multicall(ctx context.Context, addrs []string, req wire.Frame, o MulticallOptions) *Multicall {
	n := len(addrs)
	s := scratchPool.Get().(*scratch)
	if cap(s.ch) < n {
		s.ch = make(chan result, n)
	}
	s.calls = slices.Grow(s.calls[:0], n)[:n]
	clear(s.calls)
	s.order = slices.Grow(s.order[:0], n)[:n]
	for i := range s.order {
		s.order[i] = i
	}
	m := &Multicall{c: c, ctx: ctx, addrs: addrs, req: req, s: s, direct: o.Direct}
	first := n
	if o.First > 0 && o.First < n {
		first = o.First
		after := c.orderByRTT(addrs, s, first, o.HedgeAfter)
		m.hedgeAt = time.Now().Add(after)
		if s.timer == nil {
			s.timer = time.NewTimer(after)
		} else {
			s.timer.Reset(after)
		}
		m.hedge = true
	}
	m.send(first)
	return m
}

// orderByRTT sorts s.order by the addresses' recent round trips, shortest
// first, and returns the hedge delay for sending to the first of them:
// hedge when positive, else 3× the longest of their round trips, within
// [MinHedgeAfter, MaxHedgeAfter].
func (c *Client) orderByRTT(addrs []string, s *scratch, first int, hedge time.Duration) time.Duration {
	s.rtts = slices.Grow(s.rtts[:0], len(addrs))[:len(addrs)]
	c.mu.Lock()
	for i, a := range addrs {
		s.rtts[i] = 0
		if p := c.peers[a]; p != nil {
			s.rtts[i] = p.rtt
		}
	}
	c.mu.Unlock()
	for i := 1; i < len(s.order); i++ { // insertion sort: a handful of peers
		for j := i; j > 0 && s.rtts[s.order[j]] < s.rtts[s.order[j-1]]; j-- {
			s.order[j], s.order[j-1] = s.order[j-1], s.order[j]
		}
	}
	if hedge > 0 {
		return hedge
	}
	return min(max(3*s.rtts[s.order[first-1]], MinHedgeAfter), MaxHedgeAfter)
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

// send sends to the addresses s.order[m.sent:upTo]: on a quiet
// connection from this goroutine when it can, else as a Call in a
// goroutine (which also reports a call that cannot be sent at all).
func (m *Multicall) send(upTo int) {
	if m.s == nil || upTo <= m.sent {
		return
	}
	m.syncToDrain(true) // Next will wait on the channel for every call
	batch := m.s.order[m.sent:upTo]
	m.sent = upTo
	m.out += len(batch)
	m.owed += len(batch)
	direct := len(m.req.Body) <= m.c.opts.MaxBody && m.ctx.Err() == nil
	now := time.Now()
	for _, i := range batch {
		c := &m.s.calls[i]
		c.sentAt = now
		if direct && m.direct && m.out == 1 {
			if dc := m.c.acquireDirect(m.addrs[i]); dc != nil {
				if id, err := dc.send(m.req); err == nil {
					c.dc, c.id = dc, id
					m.syncCall = 1 + i
					continue
				}
			}
		}
		if cc := m.c.quietConn(m.addrs[i]); direct && cc != nil {
			if id, ok := cc.trySend(m.req, waiter{ch: m.s.ch, tag: i}); ok {
				c.cc, c.id = cc, id
				continue
			}
		}
		m.goCall(i)
	}
}

// SendRest sends the request to every address it has not been sent to
// yet. It is a no-op when there is none, or after Close.
func (m *Multicall) SendRest() { m.send(len(m.addrs)) }

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
		m.ctx, m.cancel = context.WithCancel(m.ctx)
	}
	ctx, ch := m.ctx, m.s.ch
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f, err := m.c.Call(ctx, m.addrs[i], m.req)
		ch <- result{frame: f, err: err, tag: i}
	}()
}

// Next blocks until the reply of a call not yet returned arrives, and
// returns it; meanwhile it sends to the addresses held back by
// MulticallOptions.First when their time comes. ok is false when every
// address's reply has been returned, once ctx is done, or after Close.
func (m *Multicall) Next() (r Reply, ok bool) {
	for m.s != nil && m.out+len(m.addrs)-m.sent > 0 {
		if m.syncCall > 0 {
			if r, ok := m.readSync(); ok {
				return r, true
			}
			continue
		}
		if m.out == 0 {
			m.SendRest() // the caller wants more than the first calls gave
			continue
		}
		var hedge <-chan time.Time
		if m.hedge && m.sent < len(m.addrs) {
			hedge = m.s.timer.C
		}
		var res result
		select {
		case res = <-m.s.ch:
		case <-hedge:
			m.SendRest()
			continue
		case <-m.ctx.Done():
			select {
			case res = <-m.s.ch: // prefer an answer that did arrive
			default:
				return Reply{}, false
			}
		}
		m.owed--
		m.out--
		c := &m.s.calls[res.tag]
		c.returned = true
		if res.err == nil {
			m.c.recordRTT(m.addrs[res.tag], time.Since(c.sentAt), false)
		} else {
			m.SendRest() // this one will not answer: try the others
		}
		return Reply{Index: res.tag, Frame: res.frame, Err: res.err}, true
	}
	return Reply{}, false
}

// Close abandons the calls whose replies Next has not returned (their
// answers are discarded on arrival; the time they went unanswered counts
// toward their addresses' round trips, so a stalled server is sent to
// later, not first) and waits for the goroutines the Multicall started,
// which it cancels. Next returns false afterwards. Close is idempotent.
func (m *Multicall) Close() {
	s := m.s
	if s == nil {
		return
	}
	m.syncToDrain(false)
	m.s = nil
	if m.hedge {
		s.timer.Stop()
	}
	now := time.Now()
	for _, i := range s.order[:m.sent] {
		c := &s.calls[i]
		if c.returned {
			continue
		}
		if c.cc != nil && c.cc.forget(c.id) || c.dc != nil && c.dc.forget(c.id) {
			m.owed--
		}
		m.c.recordRTT(m.addrs[i], now.Sub(c.sentAt), true)
	}
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
drain:
	for ; m.owed > 0; m.owed-- {
		select {
		case <-s.ch:
		default:
			// A result is still on its way (a reply being delivered
			// as its call was forgotten): the channel cannot be reused.
			s.ch = nil
			break drain
		}
	}
	scratchPool.Put(s)
}

// readSync waits for the answer of the call on a dedicated connection,
// the only call out, reading it on this goroutine until the hedge delay
// ends, DirectWait has passed, or ctx's deadline, whichever is first. It
// returns the reply, or false when the call was handed to a goroutine
// (no answer in time) or sent again over a shared connection (the
// dedicated one failed): Next then waits on the channel.
func (m *Multicall) readSync() (Reply, bool) {
	if m.ctx.Err() != nil {
		m.syncToDrain(true) // Next's select sees ctx end
		return Reply{}, false
	}
	i := m.syncCall - 1
	c := &m.s.calls[i]
	deadline := time.Now().Add(DirectWait)
	if m.hedge && m.sent < len(m.addrs) && m.hedgeAt.Before(deadline) {
		deadline = m.hedgeAt
	}
	if d, ok := m.ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	f, waiting, err := c.dc.await(c.id, deadline)
	if waiting {
		m.syncToDrain(true)
		return Reply{}, false
	}
	m.syncCall = 0
	c.dc = nil
	if err != nil && m.ctx.Err() == nil && m.c.ctx.Err() == nil {
		// The dedicated connection failed (it may have gone stale while
		// idle): ask again the usual way, as MulticallOptions.Direct
		// allows.
		if cc := m.c.quietConn(m.addrs[i]); cc != nil {
			if id, ok := cc.trySend(m.req, waiter{ch: m.s.ch, tag: i}); ok {
				c.cc, c.id = cc, id
				return Reply{}, false
			}
		}
		m.goCall(i)
		return Reply{}, false
	}
	m.owed--
	m.out--
	c.returned = true
	if err == nil {
		m.c.recordRTT(m.addrs[i], time.Since(c.sentAt), false)
	} else {
		m.SendRest()
	}
	return Reply{Index: i, Frame: f, Err: err}, true
}

// syncToDrain hands the wait for the answer on a dedicated connection,
// if Next was to read it itself, to a goroutine, which delivers it to the
// channel when deliver is set (else nobody waits for it).
func (m *Multicall) syncToDrain(deliver bool) {
	if m.syncCall == 0 {
		return
	}
	i := m.syncCall - 1
	m.syncCall = 0
	c := &m.s.calls[i]
	c.dc.drainTo(c.id, waiter{ch: m.s.ch, tag: i}, deliver)
	if !deliver {
		m.owed-- // no result will come
		c.dc = nil
	}
}
