package rpc

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftkit/raftkit/internal/mux"
	"github.com/raftkit/raftkit/internal/wire"
)

// ClientOptions tune a Client. The zero value gives the defaults; zero or
// negative fields mean their default.
type ClientOptions struct {
	// MaxBody bounds request bodies (a larger one fails with ErrNotSent
	// before anything is sent) and response bodies (a larger one kills the
	// connection it arrived on). Default 16 MiB; at most wire.MaxBodySize.
	MaxBody int
	// ConnsPerAddr bounds the connections kept to one address. A Call uses
	// an idle connection when there is one, else dials another up to the
	// bound, else shares the least busy one. Default 2.
	ConnsPerAddr int
	// Dialer opens the connections (mux.KindRPC), with TLS when set.
	Dialer mux.Dialer
	// WriteTimeout bounds the write of one request, and how long an answer
	// owed on a dedicated connection (MulticallOptions.Direct) is waited
	// for once Next no longer reads it itself; the connection is then
	// closed. Default 10s.
	WriteTimeout time.Duration
	// Logger receives connection-level events; nil discards them.
	Logger hclog.Logger
}

// Client sends requests to Servers, multiplexing concurrent calls over a
// few connections per address that it dials on first use and redials after
// they fail. Its methods are safe for concurrent use.
type Client struct {
	opts   ClientOptions
	logger hclog.Logger

	ctx    context.Context // cancelled by Close: aborts dials
	cancel context.CancelFunc
	wg     sync.WaitGroup // reader goroutines

	closeOnce sync.Once

	mu     sync.Mutex
	peers  map[string]*peer
	closed bool
}

// peer is the set of connections to one address.
type peer struct {
	conns   []*clientConn
	dialing int
	changed chan struct{} // closed and replaced when a dial ends or a conn goes
	rtt     time.Duration // smoothed round trip of Multicall calls; 0 when unknown

	// The dedicated connection (direct.go), kept only while conns is
	// not empty.
	direct        *directConn
	directBusy    bool      // direct is owned by a Multicall or its drain
	directDialing bool      // a dial of direct is under way
	directRetry   time.Time // no dial of direct before then
}

func (p *peer) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// NewClient returns a Client. It starts nothing and dials nothing until
// the first Call.
func NewClient(opts ClientOptions) *Client {
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	opts.MaxBody = min(opts.MaxBody, wire.MaxBodySize)
	if opts.ConnsPerAddr <= 0 {
		opts.ConnsPerAddr = DefaultConnsPerAddr
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	logger := opts.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Client{opts: opts, logger: logger, ctx: ctx, cancel: cancel, peers: make(map[string]*peer)}
}

// Call sends req (its ID is replaced by one the client chooses) to the
// Server at addr and blocks until the response arrives, ctx ends or the
// client is closed. It returns the response frame, whatever its Type: a
// TypeError frame is a response too.
//
// Errors wrap exactly one of ErrNotSent (the request did not reach the
// handler: dial failure, failed write, ctx ended before the write, request
// body over MaxBody — then also wire.ErrFrameTooLarge) and ErrNoResponse
// (written, but the connection died, ctx ended — then also ctx.Err() — or
// the client closed). ErrClosed is wrapped too once the client is closed.
//
// When ctx ends the call returns at once and the connection stays in use
// for other calls; a response that arrives later is discarded. A write
// already started is not interrupted by ctx (that would corrupt the
// stream for every call sharing the connection); it is bounded by
// WriteTimeout.
func (c *Client) Call(ctx context.Context, addr string, req wire.Frame) (wire.Frame, error) {
	if len(req.Body) > c.opts.MaxBody {
		return wire.Frame{}, notSent(addr, fmt.Errorf("%w: request body of %d bytes exceeds the limit of %d",
			wire.ErrFrameTooLarge, len(req.Body), c.opts.MaxBody))
	}
	if err := ctx.Err(); err != nil {
		return wire.Frame{}, notSent(addr, err)
	}
	for attempt := 0; ; attempt++ {
		cc, err := c.conn(ctx, addr)
		if err != nil {
			return wire.Frame{}, notSent(addr, err)
		}
		id, ch, err := cc.send(ctx, req)
		if err == errConnGone && attempt < 2 {
			continue // died before anything was written: another conn may do
		}
		if err != nil {
			return wire.Frame{}, notSent(addr, err)
		}
		return cc.wait(ctx, id, ch)
	}
}

// conn returns a connection to addr, dialing one when none is idle and the
// bound allows, else the least busy one.
func (c *Client) conn(ctx context.Context, addr string) (*clientConn, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		p := c.peers[addr]
		if p == nil {
			p = &peer{changed: make(chan struct{})}
			c.peers[addr] = p
		}
		var best *clientConn
		bestLoad := 0
		for _, cc := range p.conns {
			l := cc.load()
			if l >= 0 && (best == nil || l < bestLoad) {
				best, bestLoad = cc, l
			}
		}
		canDial := len(p.conns)+p.dialing < c.opts.ConnsPerAddr
		if best != nil && (bestLoad == 0 || !canDial) {
			c.mu.Unlock()
			return best, nil
		}
		if canDial {
			p.dialing++
			c.mu.Unlock()
			return c.dialInto(ctx, addr, p)
		}
		changed := p.changed // every slot is being dialed: wait for one
		c.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.ctx.Done():
			return nil, ErrClosed
		}
	}
}

// dialInto dials addr for p, whose dialing count the caller has raised.
func (c *Client) dialInto(ctx context.Context, addr string, p *peer) (*clientConn, error) {
	dctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.ctx, cancel)
	conn, err := c.opts.Dialer.Dial(dctx, addr, mux.KindRPC)
	stop()
	cancel()

	c.mu.Lock()
	defer c.mu.Unlock()
	p.dialing--
	p.notify()
	if err == nil && c.closed {
		conn.Close()
		err = ErrClosed
	}
	if err != nil {
		if c.closed {
			err = fmt.Errorf("%w: %w", ErrClosed, err)
		}
		c.forgetPeerLocked(addr, p)
		return nil, err
	}
	cc := newClientConn(c, addr, conn)
	p.conns = append(p.conns, cc)
	c.wg.Add(1)
	go cc.readLoop()
	return cc, nil
}

// evict removes a dead connection from its peer.
func (c *Client) evict(cc *clientConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.peers[cc.addr]
	if p == nil {
		return
	}
	for i, x := range p.conns {
		if x == cc {
			p.conns = append(p.conns[:i], p.conns[i+1:]...)
			p.notify()
			break
		}
	}
	c.closeIdleDirectLocked(p)
	c.forgetPeerLocked(cc.addr, p)
}

// forgetPeerLocked drops an address that has no connections left, so the
// map does not grow with every address ever called.
func (c *Client) forgetPeerLocked(addr string, p *peer) {
	if len(p.conns) == 0 && p.dialing == 0 && p.direct == nil && !p.directDialing && c.peers[addr] == p {
		delete(c.peers, addr)
	}
}

// Close closes every connection, fails the calls waiting on them with
// ErrClosed (and ErrNoResponse), aborts dials in progress, and waits for
// the client's goroutines to end. Later Calls fail with ErrClosed (and
// ErrNotSent). Close is idempotent and returns nil.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.cancel()
		var all []*clientConn
		var direct []*directConn
		for _, p := range c.peers {
			all = append(all, p.conns...)
			if p.direct != nil {
				direct = append(direct, p.direct)
			}
		}
		c.mu.Unlock()
		for _, cc := range all {
			cc.fail(ErrClosed)
		}
		for _, dc := range direct {
			dc.conn.Close() // ends the reads of its owner, if any
		}
		c.wg.Wait()
	})
	return nil
}

// connCount returns the number of live connections to addr (tests).
func (c *Client) connCount(addr string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.peers[addr]; p != nil {
		return len(p.conns)
	}
	return 0
}
