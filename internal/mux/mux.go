package mux

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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
	DefaultHandshakeTimeout  = 5 * time.Second
	DefaultMaxPending        = 256
	DefaultMaxPendingPerHost = 64
	DefaultMaxConnsPerKind   = 512
)

// refuseByte answers a kind byte instead of the kind itself when the Mux
// refuses the connection; a length byte and the reason follow.
const refuseByte byte = '!'

// tlsHandshakeRecord is the first byte of every TLS connection (the record
// type of a ClientHello).
const tlsHandshakeRecord byte = 0x16

// Options tune a Mux. The zero value gives the defaults.
type Options struct {
	// HandshakeTimeout bounds a connection's whole handshake phase: TLS
	// handshake, kind byte, and the wait for a sub-listener to accept it.
	// Zero or negative means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// MaxPending bounds the connections in their handshake phase at once.
	// At the bound a new connection evicts the oldest pending one that
	// has sent nothing yet, or, when every pending one has, the oldest:
	// a flood of silent or slow connections makes way for a peer that
	// completes its handshake at once, instead of keeping every newcomer
	// out. Zero or negative means DefaultMaxPending.
	MaxPending int
	// MaxPendingPerHost bounds the connections in their handshake phase
	// from one IP address, evicting the same way within that address.
	// Zero or negative means DefaultMaxPendingPerHost.
	MaxPendingPerHost int
	// Admit, when set, decides whether a connection whose kind byte has
	// been read is handed to its listener. It gets the kind, the remote
	// address and, with TLS, the connection state (its VerifiedChains are
	// the verified client certificate chains); it runs once per
	// connection, on the connection's handshake goroutine, and must not
	// block for long. An error refuses the connection: the dialer's Dial
	// fails with a *RefusedError carrying the error's text. The value it
	// returns is carried with the connection: see Identity.
	Admit func(kind byte, remote net.Addr, state *tls.ConnectionState) (identity any, err error)
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
	sniffing map[*pendingConn]struct{} // conns in TLS handshake or kind read
	accepted map[*trackedConn]struct{} // conns handed out and not yet closed
	perHost  map[string]int            // pending conns per remote IP
	pending  int                       // conns between Accept on ln and handover
	seq      uint64                    // accept order of pending conns
	closed   bool

	warned rateLimiter

	rejects rejectCounts // connections closed before handover, by reason
}

// pendingConn is a connection in its handshake phase.
type pendingConn struct {
	raw     net.Conn
	host    string
	seq     uint64      // accept order
	spoke   atomic.Bool // some byte has arrived
	evicted bool        // no longer counted in the pending bounds (evicted or done); guarded by Mux.mu
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
//
// With tlsConf set, every connection must present a client certificate
// that verifies against tlsConf's CAs: New applies ServerConfig. A config
// that ServerConfig refuses (no CA pool) makes the Mux refuse every TLS
// connection, and New logs why; callers validate with ServerConfig first.
// A dialer that speaks plain TCP to a TLS Mux is refused with a reason
// its Dial reports, and so is one that Options.Admit refuses.
func New(ln net.Listener, tlsConf *tls.Config, logger hclog.Logger, opts Options) *Mux {
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.MaxPendingPerHost <= 0 {
		opts.MaxPendingPerHost = DefaultMaxPendingPerHost
	}
	if opts.MaxConnsPerKind <= 0 {
		opts.MaxConnsPerKind = DefaultMaxConnsPerKind
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if tlsConf != nil {
		conf, err := ServerConfig(tlsConf)
		if err != nil {
			logger.Error("TLS config cannot verify peers; refusing every connection", "error", err)
			conf = tlsConf.Clone()
			conf.ClientCAs = x509.NewCertPool()
			conf.ClientAuth = tls.RequireAndVerifyClientCert
			conf.GetConfigForClient = nil
		}
		tlsConf = conf
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
		sniffing: make(map[*pendingConn]struct{}),
		accepted: make(map[*trackedConn]struct{}),
		perHost:  make(map[string]int),
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
		for p := range m.sniffing {
			p.raw.Close()
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
	identity any          // what Options.Admit returned
	lastRead atomic.Int64 // unix nanoseconds of the last read that returned data
	once     sync.Once
}

// Identity returns the value Options.Admit returned for conn, a connection
// a Mux listener handed out, or nil (no Admit, or another kind of conn).
// It allocates nothing.
func Identity(conn net.Conn) any {
	if t, ok := conn.(*trackedConn); ok {
		return t.identity
	}
	return nil
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
func (m *Mux) track(conn net.Conn, kind byte, identity any) net.Conn {
	t := &trackedConn{Conn: conn, mux: m, kind: kind, identity: identity}
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
		// A flood evicts on every accept: the warning is rate-limited.
		m.warned.log(m.logger, warnEvictIdle, "too many connections of one kind; closing the longest idle ones", "kind", string(kind),
			"limit", m.opts.MaxConnsPerKind, "closed", victim.RemoteAddr(), "idle", time.Since(time.Unix(0, victim.lastRead.Load())))
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

// CloseIf closes every accepted connection of the given kind, not yet
// closed by its owner, for which drop returns true given what
// Options.Admit returned for it, and returns how many it closed: for
// revoking connections whose peer lost its right to them. drop runs with
// the Mux's lock held and must not call the Mux.
func (m *Mux) CloseIf(kind byte, drop func(identity any) bool) int {
	m.mu.Lock()
	var victims []*trackedConn
	for c := range m.accepted {
		if c.kind == kind && drop(c.identity) {
			victims = append(victims, c)
			delete(m.accepted, c)
		}
	}
	m.mu.Unlock()
	for _, c := range victims {
		c.Conn.Close()
	}
	return len(victims)
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
// when the Mux is closed. At MaxPending, or MaxPendingPerHost for its
// address, it first evicts a pending connection (see Options.MaxPending).
func (m *Mux) admit(conn net.Conn) {
	host := remoteHost(conn)
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		conn.Close()
		return
	}
	var victim *pendingConn
	limit := ""
	switch {
	case m.perHost[host] >= m.opts.MaxPendingPerHost:
		victim, limit = m.evictionVictim(host), "max_pending_per_host"
	case m.pending >= m.opts.MaxPending:
		victim, limit = m.evictionVictim(""), "max_pending"
	}
	if limit != "" && victim == nil {
		// Every pending connection of the bound has finished its
		// handshake and waits for a listener to accept it.
		m.mu.Unlock()
		conn.Close()
		m.reject(RejectPendingFull)
		m.warned.log(m.logger, warnPendingFull, "too many connections waiting to be accepted; refusing new ones",
			"limit", limit, "remote", conn.RemoteAddr())
		return
	}
	if victim != nil {
		m.forgetPending(victim)
		victim.evicted = true
	}
	m.seq++
	p := &pendingConn{raw: conn, host: host, seq: m.seq}
	m.pending++
	m.perHost[host]++
	m.sniffing[p] = struct{}{}
	m.wg.Add(1)
	m.mu.Unlock()
	if victim != nil {
		victim.raw.Close()
		m.reject(RejectEvicted)
		m.warned.log(m.logger, warnEvictPending, "too many connections in handshake; closing the oldest silent ones",
			"limit", limit, "closed", victim.raw.RemoteAddr(), "spoke", victim.spoke.Load())
	}
	go m.handshake(p)
}

// evictionVictim picks the pending connection to close for a newcomer:
// among those still in their handshake (from host, when host is not
// empty), the oldest that has sent nothing, else the oldest. A connection
// whose bytes have arrived but not been read yet (its goroutine has not
// run) counts as having sent them. It returns nil when there is none.
// m.mu is held.
func (m *Mux) evictionVictim(host string) *pendingConn {
	var oldest *pendingConn
	for range maxPeeks {
		var oldestSilent *pendingConn
		oldest = nil
		for p := range m.sniffing {
			if host != "" && p.host != host {
				continue
			}
			if oldest == nil || p.seq < oldest.seq {
				oldest = p
			}
			if !p.spoke.Load() && (oldestSilent == nil || p.seq < oldestSilent.seq) {
				oldestSilent = p
			}
		}
		if oldestSilent == nil {
			return oldest
		}
		if !hasUnreadData(oldestSilent.raw) {
			return oldestSilent
		}
		oldestSilent.spoke.Store(true)
	}
	return oldest
}

// maxPeeks bounds the connections evictionVictim peeks at for one
// newcomer; past it the oldest is evicted.
const maxPeeks = 8

// forgetPending ends p's claim on the pending bounds. m.mu is held.
func (m *Mux) forgetPending(p *pendingConn) {
	delete(m.sniffing, p)
	m.pending--
	if m.perHost[p.host]--; m.perHost[p.host] <= 0 {
		delete(m.perHost, p.host)
	}
}

// remoteHost is the IP address conn comes from, the key of
// MaxPendingPerHost.
func remoteHost(conn net.Conn) string {
	if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(conn.RemoteAddr().String())
	if err != nil {
		return conn.RemoteAddr().String()
	}
	return host
}

// handshake takes one connection through TLS, reads its kind, asks
// Options.Admit and hands it to the sub-listener of that kind.
func (m *Mux) handshake(p *pendingConn) {
	defer m.wg.Done()
	defer m.release(p)
	raw := p.raw
	deadline := time.Now().Add(m.opts.HandshakeTimeout)
	ctx, cancel := context.WithDeadline(m.ctx, deadline)
	defer cancel()

	conn, kind, err := m.sniff(ctx, p, deadline)
	m.mu.Lock()
	evicted := p.evicted
	delete(m.sniffing, p)
	sub := m.subs[kind]
	m.mu.Unlock()
	if evicted {
		conn.Close()
		return
	}
	if err != nil {
		if errors.Is(err, errPlaintextPeer) {
			m.refuse(conn, deadline, "this node requires TLS with a client certificate")
		}
		conn.Close()
		m.reject(sniffRejectReason(err))
		m.logSniffError(raw, err)
		return
	}
	if sub == nil {
		conn.Close()
		m.reject(RejectUnknownKind)
		m.logger.Warn("closed connection of unknown kind", "remote", raw.RemoteAddr(), "first_byte", fmt.Sprintf("%#02x", kind))
		return
	}
	var identity any
	if admit := m.opts.Admit; admit != nil {
		var state *tls.ConnectionState
		if tc, ok := conn.(*tls.Conn); ok {
			st := tc.ConnectionState()
			state = &st
		}
		if identity, err = admit(kind, raw.RemoteAddr(), state); err != nil {
			m.refuse(conn, deadline, err.Error())
			conn.Close()
			m.reject(RejectNotAdmitted)
			m.warned.log(m.logger, warnRefused, "refused connection", "remote", raw.RemoteAddr(), "kind", string(kind), "reason", err)
			return
		}
	}
	select {
	case sub.handoff <- handoff{conn: conn, deadline: deadline, identity: identity}:
	case <-sub.done:
		conn.Close()
		m.reject(RejectNotAccepted)
		m.logger.Debug("closed connection: its listener is closed", "remote", raw.RemoteAddr(), "kind", string(kind))
	case <-ctx.Done():
		conn.Close()
		m.reject(RejectNotAccepted)
		if !m.isClosed() {
			m.logger.Warn("closed connection: not accepted within the handshake timeout", "remote", raw.RemoteAddr(), "kind", string(kind))
		}
	}
}

// errPlaintextPeer is a connection to a TLS Mux whose first byte is not a
// TLS record: a dialer without TLS.
var errPlaintextPeer = errors.New("plain TCP peer; this node requires TLS")

// errTLSPeer is a connection to a plain Mux that starts a TLS handshake.
var errTLSPeer = errors.New("peer starts a TLS handshake; this node has no TLS configured")

// maxReason bounds the reason sent with a refusal.
const maxReason = 255

// refuse tells the dialer why its connection is closed: refuseByte, the
// reason's length and the reason, written within the handshake phase.
func (m *Mux) refuse(conn net.Conn, deadline time.Time, reason string) {
	if len(reason) > maxReason {
		reason = reason[:maxReason]
	}
	msg := make([]byte, 0, 2+len(reason))
	msg = append(msg, refuseByte, byte(len(reason)))
	msg = append(msg, reason...)
	if conn.SetWriteDeadline(deadline) == nil {
		conn.Write(msg)
	}
}

// sniff performs the TLS handshake, if any, and reads the kind byte. The
// returned conn is the one to close on error and to hand over otherwise.
func (m *Mux) sniff(ctx context.Context, p *pendingConn, deadline time.Time) (net.Conn, byte, error) {
	raw := p.raw
	if err := raw.SetDeadline(deadline); err != nil {
		return raw, 0, err
	}
	var b [1]byte
	if _, err := io.ReadFull(raw, b[:]); err != nil {
		return raw, 0, fmt.Errorf("reading the first byte: %w", err)
	}
	p.spoke.Store(true)
	if m.tlsConf == nil {
		if b[0] == tlsHandshakeRecord {
			return raw, 0, errTLSPeer
		}
		return raw, b[0], nil
	}
	if b[0] != tlsHandshakeRecord {
		return raw, 0, errPlaintextPeer
	}
	tc := tls.Server(&replayConn{Conn: raw, first: b[0], pending: true}, m.tlsConf)
	if err := tc.HandshakeContext(ctx); err != nil {
		return tc, 0, &handshakeError{err}
	}
	if _, err := io.ReadFull(tc, b[:]); err != nil {
		return tc, 0, fmt.Errorf("reading the kind byte: %w", err)
	}
	return tc, b[0], nil
}

// replayConn returns one byte already read from Conn before what Conn
// still holds.
type replayConn struct {
	net.Conn
	first   byte
	pending bool
}

func (c *replayConn) Read(p []byte) (int, error) {
	if c.pending && len(p) > 0 {
		c.pending = false
		p[0] = c.first
		return 1, nil
	}
	return c.Conn.Read(p)
}

// handshakeError marks a failed TLS handshake, for logging.
type handshakeError struct{ err error }

func (e *handshakeError) Error() string { return "TLS handshake: " + e.err.Error() }
func (e *handshakeError) Unwrap() error { return e.err }

// sniffRejectReason classifies a failed handshake phase.
func sniffRejectReason(err error) RejectReason {
	var he *handshakeError
	switch {
	case errors.Is(err, errPlaintextPeer):
		return RejectPlaintext
	case errors.Is(err, errTLSPeer):
		return RejectTLSPeer
	case errors.As(err, &he) && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, io.EOF) &&
		!errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, context.DeadlineExceeded):
		return RejectHandshake
	default:
		return RejectSilent
	}
}

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
	case errors.Is(err, errPlaintextPeer):
		m.warned.log(m.logger, warnPlaintext, "refused plain TCP connection: this node requires TLS", "remote", raw.RemoteAddr())
	case errors.Is(err, errTLSPeer):
		m.warned.log(m.logger, warnTLSPeer, "closed connection: the peer speaks TLS, this node has no TLS configured", "remote", raw.RemoteAddr())
	case errors.As(err, &he):
		m.warned.log(m.logger, warnHandshake, "closed connection: TLS handshake failed", "remote", raw.RemoteAddr(), "error", err)
	default:
		m.logger.Debug("closed connection during handshake", "remote", raw.RemoteAddr(), "error", err)
	}
}

// release ends one connection's handshake phase, unless its eviction
// ended it already.
func (m *Mux) release(p *pendingConn) {
	m.mu.Lock()
	if !p.evicted {
		delete(m.sniffing, p)
		p.evicted = true
		m.pending--
		if m.perHost[p.host]--; m.perHost[p.host] <= 0 {
			delete(m.perHost, p.host)
		}
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
