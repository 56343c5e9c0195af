package rpc

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/wire"
)

// connListener hands out the conns sent on its channel.
type connListener struct {
	conns chan net.Conn
	done  chan struct{}
}

func newConnListener() *connListener {
	return &connListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	return nil
}

func (l *connListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// FuzzServerConn feeds arbitrary bytes to a server's frame loop, as one
// connection's request stream. The server must not panic, must answer
// only with frames a client can read, must end the connection when the
// stream ends and must leave no goroutine behind (goleak in TestMain).
func FuzzServerConn(f *testing.F) {
	frameBytes := func(frames ...wire.Frame) []byte {
		var buf bytes.Buffer
		for _, fr := range frames {
			_ = wire.WriteFrame(&buf, fr)
		}
		return buf.Bytes()
	}
	f.Add(frameBytes(wire.Frame{Type: wire.TypeApplyRequest, ID: 1, Body: []byte("x")}))
	f.Add(frameBytes(
		wire.Frame{Type: wire.TypeConfirmRequest, ID: 1},
		wire.Frame{Type: wire.TypeApplyRequest, ID: 2, Body: make([]byte, 300)},
		wire.Frame{Type: wire.TypeStatusRequest, ID: 2}, // a reused ID
	))
	f.Add(frameBytes(wire.Frame{Type: wire.TypeApplyRequest, ID: 0, Body: make([]byte, 2000)})) // over MaxBody
	f.Add([]byte{0, 0, 0, 3, 1, 2, 3})                                                          // length under the header
	f.Add([]byte{0, 0, 0, 20, byte(wire.TypeApplyRequest), 0, 0, 0, 0, 0, 0, 0, 1, 'a'})        // truncated body
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		ln := newConnListener()
		srv := NewServer(ln, func(ctx context.Context, req wire.Frame) wire.Frame {
			return wire.Frame{Type: req.Type, Body: req.Body}
		}, ServerOptions{
			MaxBody:                 1024,
			MaxInFlightPerConn:      4,
			MaxInFlightBytesPerConn: 2048,
			WriteTimeout:            time.Second,
			Inline:                  func(t wire.Type) bool { return t == wire.TypeConfirmRequest },
		})
		served := make(chan error, 1)
		go func() { served <- srv.Serve() }()
		conn := &streamConn{in: bytes.NewReader(data), closed: make(chan struct{})}
		ln.conns <- conn
		<-conn.closed // the stream ended and the server closed the conn
		if err := srv.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := <-served; err != nil {
			t.Fatalf("Serve: %v", err)
		}
		// Every answer, the ID-0 notice included, is a frame within the
		// limit.
		r := bufio.NewReader(bytes.NewReader(conn.written()))
		for {
			if _, err := wire.ReadFrame(r, 1024); err != nil {
				if err != io.EOF {
					t.Fatalf("server wrote an unreadable frame: %v", err)
				}
				break
			}
		}
	})
}

// streamConn is a net.Conn whose input is a fixed byte stream and whose
// output is recorded.
type streamConn struct {
	in     *bytes.Reader
	mu     sync.Mutex
	out    bytes.Buffer
	once   sync.Once
	closed chan struct{}
}

func (c *streamConn) Read(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	return c.in.Read(p)
}

func (c *streamConn) Write(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}

func (c *streamConn) written() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.out.Bytes())
}

func (c *streamConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *streamConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *streamConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *streamConn) SetDeadline(time.Time) error      { return nil }
func (c *streamConn) SetReadDeadline(time.Time) error  { return nil }
func (c *streamConn) SetWriteDeadline(time.Time) error { return nil }
