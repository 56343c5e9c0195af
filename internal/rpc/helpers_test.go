package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync/atomic"
	"testing"

	"github.com/raftkit/raftkit/internal/mux"
	"github.com/raftkit/raftkit/internal/wire"
)

// countingListener counts the connections it hands out.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// testServer is a Server behind a Mux on a loopback port.
type testServer struct {
	srv  *Server
	mux  *mux.Mux
	ln   *countingListener
	addr string
}

type serverSetup struct {
	tls     *tls.Config
	opts    ServerOptions
	muxOpts mux.Options
}

// startBenchServer runs an echo server behind a Mux for a benchmark and
// returns its address.
func startBenchServer(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	m := mux.New(ln, nil, nil, mux.Options{})
	srv := NewServer(m.Listener(mux.KindRPC), echo, ServerOptions{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	b.Cleanup(func() {
		srv.Close()
		<-served
		m.Close()
	})
	return m.Addr().String()
}

// startServer runs h behind a Mux; everything is closed, and Serve's
// result checked, at the end of the test.
func startServer(t *testing.T, h Handler, setup serverSetup) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := mux.New(ln, setup.tls, nil, setup.muxOpts)
	cl := &countingListener{Listener: m.Listener(mux.KindRPC)}
	srv := NewServer(cl, h, setup.opts)
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Server.Close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve returned %v after Close, want nil", err)
		}
		m.Close()
	})
	return &testServer{srv: srv, mux: m, ln: cl, addr: m.Addr().String()}
}

// newClient returns a Client closed at the end of the test.
func newClient(t *testing.T, opts ClientOptions) *Client {
	c := NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// echo answers every request with its own type and body.
func echo(_ context.Context, req wire.Frame) wire.Frame {
	return wire.Frame{Type: req.Type, Body: req.Body}
}

func frame(body string) wire.Frame {
	return wire.Frame{Type: wire.TypeApplyRequest, Body: []byte(body)}
}

// callOK calls and checks that the echo came back.
func callOK(t *testing.T, c *Client, addr, body string) {
	t.Helper()
	resp, err := c.Call(context.Background(), addr, frame(body))
	if err != nil {
		t.Fatalf("Call(%q): %v", body, err)
	}
	if resp.Type != wire.TypeApplyRequest || string(resp.Body) != body {
		t.Fatalf("Call(%q) = %v %q", body, resp.Type, resp.Body)
	}
}

// checkOutcome asserts that err wraps want, one of ErrNotSent and
// ErrNoResponse, and not the other, plus every error in also.
func checkOutcome(t *testing.T, err, want error, also ...error) {
	t.Helper()
	other := ErrNoResponse
	if want == ErrNoResponse {
		other = ErrNotSent
	}
	if !errors.Is(err, want) || errors.Is(err, other) {
		t.Fatalf("error %v: want %v and not %v", err, want, other)
	}
	for _, e := range also {
		if !errors.Is(err, e) {
			t.Fatalf("error %v does not wrap %v", err, e)
		}
	}
}
