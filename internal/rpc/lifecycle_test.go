package rpc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/mux"
	"github.com/raftkit/raftkit/internal/testutil"
)

func TestServerCloseCancelsHandlersAndEndsCalls(t *testing.T) {
	h := newBlockingHandler()
	ts := startServer(t, h.serve, serverSetup{})
	c := newClient(t, ClientOptions{})
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(context.Background(), ts.addr, frame("slow"))
		errc <- err
	}()
	testutil.WaitFor(t, 5*time.Second, "the handler to start", func() bool { return h.enteredCount() == 1 })

	if err := ts.srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := ts.srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	checkOutcome(t, <-errc, ErrNoResponse)
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ctxErrs) != 1 || !errors.Is(h.ctxErrs[0], context.Canceled) {
		t.Fatalf("handler saw %v, want its context cancelled", h.ctxErrs)
	}
}

func TestClientCloseFailsPendingAndLaterCalls(t *testing.T) {
	h := newBlockingHandler()
	ts := startServer(t, h.serve, serverSetup{})
	c := NewClient(ClientOptions{})
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(context.Background(), ts.addr, frame("slow"))
		errc <- err
	}()
	testutil.WaitFor(t, 5*time.Second, "the handler to start", func() bool { return h.enteredCount() == 1 })

	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	checkOutcome(t, <-errc, ErrNoResponse, ErrClosed)
	_, err := c.Call(context.Background(), ts.addr, frame("x"))
	checkOutcome(t, err, ErrNotSent, ErrClosed)
}

func TestMaxConnsStopsAccepting(t *testing.T) {
	ts := startServer(t, echo, serverSetup{
		opts:    ServerOptions{MaxConns: 1},
		muxOpts: mux.Options{HandshakeTimeout: 300 * time.Millisecond},
	})
	first := NewClient(ClientOptions{})
	callOK(t, first, ts.addr, "first")

	second := newClient(t, ClientOptions{})
	_, err := second.Call(context.Background(), ts.addr, frame("second"))
	checkOutcome(t, err, ErrNotSent)

	first.Close()
	testutil.WaitFor(t, 5*time.Second, "the first connection to end", func() bool { return ts.srv.connCount() == 0 })
	callOK(t, second, ts.addr, "second, later")
}

func TestMaxInFlightPerConnStopsReading(t *testing.T) {
	h := newBlockingHandler()
	ts := startServer(t, h.serve, serverSetup{opts: ServerOptions{MaxInFlightPerConn: 2}})
	c := newClient(t, ClientOptions{ConnsPerAddr: 1})
	errc := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := c.Call(context.Background(), ts.addr, frame("slow"))
			errc <- err
		}()
	}
	testutil.WaitFor(t, 5*time.Second, "two handlers running and the reader waiting", func() bool {
		return h.enteredCount() == 2 && ts.srv.throttled.Load() > 0
	})
	if n := h.enteredCount(); n != 2 {
		t.Fatalf("%d handlers running with MaxInFlightPerConn 2", n)
	}
	close(h.release)
	for range 3 {
		if err := <-errc; err != nil {
			t.Fatalf("Call: %v", err)
		}
	}
	if n := h.enteredCount(); n != 3 {
		t.Fatalf("handler entered %d times, want 3", n)
	}
}
