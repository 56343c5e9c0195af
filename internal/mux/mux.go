package mux

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Connection kinds: the first byte a dialer writes.
const (
	KindRaft byte = 'R' // hashicorp/raft NetworkTransport streams
	KindRPC  byte = 'K' // raftkit node RPC (package rpc)
)

// Defaults for Options.
const (
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultMaxPending       = 256
	DefaultMaxConnsPerKind  = 512
)

// Options tune a Mux. The zero value gives the defaults.
type Options struct {
	// HandshakeTimeout bounds a connection's whole handshake phase: TLS
	// handshake, kind byte, and the wait for a sub-listener to accept it.
	// Zero or negative means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// MaxPending bounds the connections in their handshake phase at once;
	// beyond it new connections are closed at once. Zero or negative means
	// DefaultMaxPending.
	MaxPending int
	// MaxConnsPerKind bounds the accepted connections of one kind that are
	// open at once. At the bound, a new connection evicts the one that has
	// gone longest without receiving data: idle connections (a flood, a
	// forgotten pool) make way, while peers that talk keep theirs, and the
	// goroutines that serve connections stay bounded. Zero or negative
	// means DefaultMaxConnsPerKind.
	MaxConnsPerKind int
}

// Mux demultiplexes the connections of one listener by their kind byte.
// Its methods are safe for concurrent use.
type Mux struct {
	ln      net.Listener
	tlsConf *tls.Config
	logger  hclog.Logger
	opts    Options

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	mu       sync.Mutex
	subs     map[byte]*subListener
	sniffing map[net.Conn]struct{}     // raw conns in TLS handshake or kind read
	accepted map[*trackedConn]struct{} // conns handed out and not yet closed

	lastEvictWarn atomic.Int64 // unix nanoseconds of the last eviction warning
	pending       int          // conns between Accept on ln and handover
	closed        bool
	overLimit     bool // MaxPending reached; logged once until it clears
}

// New wraps ln and starts the goroutine that accepts its connections.
// tlsConf may be nil for plain TCP; otherwise every connection must complete
// a TLS handshake with it before its kind byte is read. The sub-listeners
// for KindRaft and KindRPC exist from the start, so connections of those
// kinds that arrive before Listener is called wait for it (up to
// HandshakeTimeout) instead of being refused. A nil logger discards logs.
//
// A connection with an unknown kind byte, a failed handshake, or that sends
// nothing within HandshakeTimeout is closed and logged (Warn for what
// suggests misconfiguration, Debug for silence and hang-ups). The Mux owns
// ln from now on: Close closes it.
func New(ln net.Listener, tlsConf *tls.Config, logger hclog.Logger, opts Options) *Mux {
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.MaxConnsPerKind <= 0 {
		opts.MaxConnsPerKind = DefaultMaxConnsPerKind
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Mux{
		ln:       ln,
		tlsConf:  tlsConf,
		logger:   logger,
		opts:     opts,
		ctx:      ctx,
		cancel:   cancel,
		subs:     make(map[byte]*subListener),
		sniffing: make(map[net.Conn]struct{}),
		accepted: make(map[*trackedConn]struct{}),
	}
	m.subs[KindRaft] = newSubListener(m, KindRaft)
	m.subs[KindRPC] = newSubListener(m, KindRPC)
	m.wg.Add(1)
	go m.acceptLoop()
	return m
}

// Listener returns the listener for connections of the given kind, creating
// it on first use; every call for the same kind returns the same listener.
// Its Accept blocks until a connection of that kind arrives, and returns an
// error wrapping net.ErrClosed once the listener or the Mux is closed.
// Closing it refuses later connections of its kind without affecting the
// other kinds; it cannot be reopened.
func (m *Mux) Listener(kind byte) net.Listener {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subs[kind]
	if !ok {
		s = newSubListener(m, kind)
		m.subs[kind] = s
		if m.closed {
			s.closeWith(net.ErrClosed)
		}
	}
	return s
}

// Addr returns the address the underlying listener is bound to.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

// Close closes the underlying listener, every sub-listener, every
// connection still in its handshake phase and every accepted connection its
// owner has not closed yet (so that the goroutines serving them, raft's
// among them, see the close and end), and waits for the Mux's goroutines to
// end. Close is idempotent; every call returns the first one's result,
// the underlying listener's Close error.
func (m *Mux) Close() error {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed = true
		m.cancel()
		m.closeErr = m.ln.Close()
		for c := range m.sniffing {
			c.Close()
		}
		accepted := m.accepted
		m.accepted = nil
		for _, s := range m.subs {
			s.closeWith(net.ErrClosed)
		}
		m.mu.Unlock()
		for c := range accepted {
			c.Conn.Close()
		}
		m.wg.Wait()
	})
	return m.closeErr
}

// trackedConn is an accepted connection the Mux closes at Close unless its
// owner closed it first, and may evict when its kind is at its bound.
type trackedConn struct {
	net.Conn
	mux      *Mux
	kind     byte
	lastRead atomic.Int64 // unix nanoseconds of the last read that returned data
	once     sync.Once
}

// Read records when data last arrived, for eviction.
func (t *trackedConn) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	if n > 0 {
		t.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

// track registers conn as handed out. After Close it is closed at once.
// When kind is at MaxConnsPerKind, the connection of that kind idle the
// longest is closed to make room.
func (m *Mux) track(conn net.Conn, kind byte) net.Conn {
	t := &trackedConn{Conn: conn, mux: m, kind: kind}
	t.lastRead.Store(time.Now().UnixNano())
	m.mu.Lock()
	if m.accepted == nil { // closed meanwhile
		m.mu.Unlock()
		conn.Close()
		return t
	}
	var victim *trackedConn
	count := 0
	for c := range m.accepted {
		if c.kind != kind {
			continue
		}
		count++
		if victim == nil || c.lastRead.Load() < victim.lastRead.Load() {
			victim = c
		}
	}
	if count < m.opts.MaxConnsPerKind {
		victim = nil
	} else {
		delete(m.accepted, victim)
	}
	m.accepted[t] = struct{}{}
	m.mu.Unlock()
	if victim != nil {
		// A flood evicts on every accept: warn at most every 10s.
		now := time.Now().UnixNano()
		if last := m.lastEvictWarn.Load(); now-last > int64(10*time.Second) && m.lastEvictWarn.CompareAndSwap(last, now) {
			m.logger.Warn("too many connections of one kind; closing the longest idle ones", "kind", string(kind),
				"limit", m.opts.MaxConnsPerKind, "closed", victim.RemoteAddr(), "idle", time.Since(time.Unix(0, victim.lastRead.Load())))
		}
		victim.Conn.Close()
	}
	return t
}

// Close closes the connection and forgets it.
func (t *trackedConn) Close() error {
	t.once.Do(func() {
		t.mux.mu.Lock()
		delete(t.mux.accepted, t)
		t.mux.mu.Unlock()
	})
	return t.Conn.Close()
}

func (m *Mux) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// acceptLoop accepts connections until the listener fails for good.
func (m *Mux) acceptLoop() {
	defer m.wg.Done()
	var delay time.Duration
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			if m.isClosed() {
				return
			}
			if errors.Is(err, net.ErrClosed) {
				// Closed under our feet: nothing more will arrive.
				m.logger.Error("listener closed outside the mux; sub-listeners stop", "addr", m.ln.Addr(), "error", err)
				m.failSubs(err)
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			m.logger.Warn("accept failed; retrying", "addr", m.ln.Addr(), "error", err, "retry_in", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-m.ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		delay = 0
		m.admit(conn)
	}
}

// admit starts the handshake of a new connection, or closes it at once
// when the Mux is closed or MaxPending connections are already pending.
func (m *Mux) admit(conn net.Conn) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		conn.Close()
		return
	}
	if m.pending >= m.opts.MaxPending {
		first := !m.overLimit
		m.overLimit = true
		m.mu.Unlock()
		conn.Close()
		if first {
			m.logger.Warn("too many connections in handshake; refusing new ones until some finish",
				"max_pending", m.opts.MaxPending, "remote", conn.RemoteAddr())
		} else {
			m.logger.Debug("refused connection: too many in handshake", "remote", conn.RemoteAddr())
		}
		return
	}
	m.pending++
	m.sniffing[conn] = struct{}{}
	m.wg.Add(1)
	m.mu.Unlock()
	go m.handshake(conn)
}

// handshake takes one connection through TLS, reads its kind and hands it
// to the sub-listener of that kind.
func (m *Mux) handshake(raw net.Conn) {
	defer m.wg.Done()
	defer m.release()
	deadline := time.Now().Add(m.opts.HandshakeTimeout)
	ctx, cancel := context.WithDeadline(m.ctx, deadline)
	defer cancel()

	conn, kind, err := m.sniff(ctx, raw, deadline)
	m.mu.Lock()
	delete(m.sniffing, raw)
	sub := m.subs[kind]
	m.mu.Unlock()
	if err != nil {
		conn.Close()
		m.logSniffError(raw, err)
		return
	}
	if sub == nil {
		conn.Close()
		m.logger.Warn("closed connection of unknown kind", "remote", raw.RemoteAddr(), "first_byte", fmt.Sprintf("%#02x", kind))
		return
	}
	select {
	case sub.handoff <- handoff{conn: conn, deadline: deadline}:
	case <-sub.done:
		conn.Close()
		m.logger.Debug("closed connection: its listener is closed", "remote", raw.RemoteAddr(), "kind", string(kind))
	case <-ctx.Done():
		conn.Close()
		if !m.isClosed() {
			m.logger.Warn("closed connection: not accepted within the handshake timeout", "remote", raw.RemoteAddr(), "kind", string(kind))
		}
	}
}

// sniff performs the TLS handshake, if any, and reads the kind byte. The
// returned conn is the one to close on error and to hand over otherwise.
func (m *Mux) sniff(ctx context.Context, raw net.Conn, deadline time.Time) (net.Conn, byte, error) {
	if err := raw.SetDeadline(deadline); err != nil {
		return raw, 0, err
	}
	conn := raw
	if m.tlsConf != nil {
		tc := tls.Server(raw, m.tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			return raw, 0, &handshakeError{err}
		}
		conn = tc
	}
	var b [1]byte
	if _, err := io.ReadFull(conn, b[:]); err != nil {
		return conn, 0, fmt.Errorf("reading the kind byte: %w", err)
	}
	return conn, b[0], nil
}

// handshakeError marks a failed TLS handshake, for logging.
type handshakeError struct{ err error }

func (e *handshakeError) Error() string { return "TLS handshake: " + e.err.Error() }
func (e *handshakeError) Unwrap() error { return e.err }

func (m *Mux) logSniffError(raw net.Conn, err error) {
	if m.isClosed() {
		return
	}
	quiet := errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded)
	var he *handshakeError
	switch {
	case quiet:
		m.logger.Debug("closed connection: nothing received in time or hung up", "remote", raw.RemoteAddr(), "error", err)
	case errors.As(err, &he):
		m.logger.Warn("closed connection: TLS handshake failed", "remote", raw.RemoteAddr(), "error", err)
	default:
		m.logger.Debug("closed connection during handshake", "remote", raw.RemoteAddr(), "error", err)
	}
}

// release ends one connection's handshake phase.
func (m *Mux) release() {
	m.mu.Lock()
	m.pending--
	if m.pending < m.opts.MaxPending {
		m.overLimit = false
	}
	m.mu.Unlock()
}

// failSubs makes every sub-listener's Accept return err.
func (m *Mux) failSubs(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.subs {
		s.closeWith(err)
	}
}

// pendingCount returns the number of connections in their handshake phase.
func (m *Mux) pendingCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pending
}
