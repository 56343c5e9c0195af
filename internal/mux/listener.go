package mux

import (
	"net"
	"sync"
	"time"
)

// handoff is a connection whose kind has been read, on its way from its
// handshake goroutine to Accept.
type handoff struct {
	conn     net.Conn
	deadline time.Time // end of the handshake phase
	identity any       // what Options.Admit returned
}

// subListener is the net.Listener for one connection kind.
type subListener struct {
	mux     *Mux
	kind    byte
	handoff chan handoff // unbuffered: a conn is owned by exactly one side

	once sync.Once
	done chan struct{}
	err  error // set before done is closed
}

func newSubListener(m *Mux, kind byte) *subListener {
	return &subListener{mux: m, kind: kind, handoff: make(chan handoff), done: make(chan struct{})}
}

// Accept waits for the next connection of this kind, answers its kind byte
// and returns it with no deadline set. It returns an error wrapping
// net.ErrClosed once the listener or its Mux is closed.
func (s *subListener) Accept() (net.Conn, error) {
	for {
		select {
		case h := <-s.handoff:
			select {
			case <-s.done:
				h.conn.Close()
				return nil, s.acceptErr()
			default:
			}
			if err := s.acknowledge(h); err != nil {
				h.conn.Close()
				s.mux.logger.Debug("closed connection: could not acknowledge its kind", "remote", h.conn.RemoteAddr(), "error", err)
				continue
			}
			return s.mux.track(h.conn, s.kind, h.identity), nil
		case <-s.done:
			return nil, s.acceptErr()
		}
	}
}

// acknowledge writes the kind byte back, within what is left of the
// handshake phase, then clears the deadline.
func (s *subListener) acknowledge(h handoff) error {
	if err := h.conn.SetWriteDeadline(h.deadline); err != nil {
		return err
	}
	if _, err := h.conn.Write([]byte{s.kind}); err != nil {
		return err
	}
	return h.conn.SetDeadline(time.Time{})
}

func (s *subListener) acceptErr() error {
	return &net.OpError{Op: "accept", Net: s.Addr().Network(), Addr: s.Addr(), Err: s.err}
}

// Close stops this kind's Accept and refuses later connections of the kind.
// It is idempotent and does not affect the Mux or other kinds.
func (s *subListener) Close() error {
	s.closeWith(net.ErrClosed)
	return nil
}

func (s *subListener) closeWith(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.done)
	})
}

// Addr returns the Mux's bound address.
func (s *subListener) Addr() net.Addr { return s.mux.Addr() }
