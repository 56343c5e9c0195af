package rpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftkit/raftkit/internal/wire"
)

// Handler serves one request and returns the response's Type and Body; the
// server sets the response ID. It runs in its own goroutine, concurrently
// with other requests of the same connection. ctx is cancelled when the
// server closes or the connection dies; a handler should then return
// promptly, since Server.Close waits for it. A panic in a handler is
// recovered, logged and answered with a TypeError frame, CodeInternal.
type Handler func(ctx context.Context, req wire.Frame) wire.Frame

// Defaults for ServerOptions and ClientOptions.
const (
	DefaultMaxBody            = 16 << 20
	DefaultMaxInFlightPerConn = 1024
	DefaultMaxConns           = 1024
	DefaultWriteTimeout       = 10 * time.Second
	DefaultConnsPerAddr       = 2
	// DefaultInFlightBodiesPerConn and DefaultInFlightBodies size the
	// default byte budgets in units of MaxBody.
	DefaultInFlightBodiesPerConn = 4
	DefaultInFlightBodies        = 16
)

// ServerOptions tune a Server. The zero value gives the defaults; zero or
// negative fields mean their default.
type ServerOptions struct {
	// MaxBody bounds request bodies (a larger one closes the connection)
	// and response bodies (a larger one is replaced by a TypeError frame,
	// CodeTooLarge). Default 16 MiB; at most wire.MaxBodySize.
	MaxBody int
	// MaxInFlightPerConn bounds the requests of one connection being
	// handled at once; at the bound the server stops reading that
	// connection until one finishes. Default 1024.
	MaxInFlightPerConn int
	// MaxInFlightBytesPerConn bounds the bytes that the requests of one
	// connection being handled hold (each counts its body plus 1 KiB); at
	// the bound the server stops reading that connection until a
	// response has been written. Default 4 × MaxBody; at least MaxBody
	// plus 1 KiB, so that a request of MaxBody can always be served.
	MaxInFlightBytesPerConn int
	// MaxInFlightBytes bounds the same bytes over all connections of the
	// server: at the bound every reader waits. Default 16 × MaxBody; at
	// least MaxInFlightBytesPerConn.
	MaxInFlightBytes int
	// MaxConns bounds the connections served at once; at the bound the
	// server stops accepting. Default 1024.
	MaxConns int
	// ConnContext, when set, derives the context of a connection's
	// handlers from the server's, once per connection: a way to hand the
	// handlers what is known about the peer (its verified identity)
	// without work per request.
	ConnContext func(ctx context.Context, conn net.Conn) context.Context
	// WriteTimeout bounds the write of one response; a peer that does not
	// read for that long loses its connection. Default 10s.
	WriteTimeout time.Duration
	// Logger receives connection-level events; nil discards them.
	Logger hclog.Logger
	// Inline, when set, names request types whose handler never blocks
	// (it reads local state and answers). Those run on the connection's
	// reader goroutine instead of a goroutine of their own, which saves a
	// goroutine hand-off on latency-critical paths such as leadership
	// confirmation. A blocking inline handler would stall its connection.
	Inline func(wire.Type) bool
}

// Server serves requests arriving on a listener (normally a Mux's KindRPC
// listener). Its methods are safe for concurrent use.
type Server struct {
	ln      net.Listener
	handler Handler
	opts    ServerOptions
	logger  hclog.Logger

	ctx       context.Context // cancelled by Close; parent of handler contexts
	cancel    context.CancelFunc
	connSlots chan struct{} // one token per served connection
	bytes     *budget       // MaxInFlightBytes
	wg        sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	mu     sync.Mutex
	conns  map[*serverConn]struct{}
	closed bool

	throttled atomic.Int64 // times a reader waited for an in-flight slot or bytes (tests)
}

// NewServer returns a Server for ln and h. It starts nothing: call Serve.
// The Server owns ln from now on: Close closes it.
func NewServer(ln net.Listener, h Handler, opts ServerOptions) *Server {
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	opts.MaxBody = min(opts.MaxBody, wire.MaxBodySize)
	if opts.MaxInFlightPerConn <= 0 {
		opts.MaxInFlightPerConn = DefaultMaxInFlightPerConn
	}
	if opts.MaxInFlightBytesPerConn <= 0 {
		opts.MaxInFlightBytesPerConn = DefaultInFlightBodiesPerConn * opts.MaxBody
	}
	opts.MaxInFlightBytesPerConn = max(opts.MaxInFlightBytesPerConn, opts.MaxBody+requestOverhead)
	if opts.MaxInFlightBytes <= 0 {
		opts.MaxInFlightBytes = DefaultInFlightBodies * opts.MaxBody
	}
	opts.MaxInFlightBytes = max(opts.MaxInFlightBytes, opts.MaxInFlightBytesPerConn)
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	logger := opts.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		ln:        ln,
		handler:   h,
		opts:      opts,
		logger:    logger,
		ctx:       ctx,
		cancel:    cancel,
		connSlots: make(chan struct{}, opts.MaxConns),
		bytes:     newBudget(int64(opts.MaxInFlightBytes)),
		conns:     make(map[*serverConn]struct{}),
	}
}

// Serve accepts connections and serves them until Close. It blocks, and
// returns nil after Close (at once if Close came first). If the listener
// fails for good without Close — closed by someone else — Serve returns an
// error wrapping net.ErrClosed; transient accept errors are retried with a
// growing delay.
func (s *Server) Serve() error {
	var delay time.Duration
	for {
		select {
		case s.connSlots <- struct{}{}:
		case <-s.ctx.Done():
			return nil
		}
		conn, err := s.ln.Accept()
		if err != nil {
			<-s.connSlots
			if s.isClosed() {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("rpc: listener closed without Server.Close: %w", err)
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.logger.Warn("accept failed; retrying", "error", err, "retry_in", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return nil
			}
			continue
		}
		delay = 0
		if !s.startConn(conn) {
			<-s.connSlots
			conn.Close()
			return nil
		}
	}
}

// startConn begins serving conn, unless the server is closed.
func (s *Server) startConn(conn net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	c := newServerConn(s, conn)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	go c.serve()
	return true
}

// connDone forgets a finished connection and frees its slot.
func (s *Server) connDone(c *serverConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	<-s.connSlots
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// closeGrace bounds how long Close lets the handlers of the requests
// already read answer before it closes the connections and cancels them.
const closeGrace = 500 * time.Millisecond

// Close stops accepting (closing the listener) and stops reading every
// connection. For up to closeGrace it lets the handlers of the requests
// already read answer; a connection whose handlers all answered then gets
// a going-away notice (an ID-0 TypeError frame, CodeClosed) that tells the
// client every request still unanswered was never read, so its calls fail
// with ErrNotSent. Then it closes every connection, cancels every
// handler's context and waits for every goroutine the Server started,
// handlers included, to return: calls whose handler had not answered by
// then fail with ErrNoResponse. It is idempotent; every call returns the
// first one's result, the listener's Close error.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = err
		}
		ended := make([]chan struct{}, 0, len(s.conns))
		for c := range s.conns {
			c.stopReading()
			ended = append(ended, c.ended)
		}
		s.mu.Unlock()
		grace := time.NewTimer(closeGrace)
	waitEnded:
		for _, e := range ended {
			select {
			case <-e:
			case <-grace.C:
				break waitEnded
			}
		}
		grace.Stop()
		s.mu.Lock()
		// Connections first, contexts second: a handler that returns
		// because its ctx ended finds its connection closed, so no caller
		// receives an answer produced by the shutdown itself.
		for c := range s.conns {
			c.conn.Close()
		}
		s.cancel()
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s.closeErr
}

// statusFrame is a TypeError frame carrying code and message.
func statusFrame(id uint64, code wire.Code, msg string) wire.Frame {
	body, _ := wire.Status{Code: code, Message: msg}.MarshalBinary()
	return wire.Frame{Type: wire.TypeError, ID: id, Body: body}
}

// connCount returns the number of connections being served (tests).
func (s *Server) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
