package rpc

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/mux"
	"github.com/raftkit/raftkit/internal/testtls"
	"github.com/raftkit/raftkit/internal/wire"
)

func TestCallRoundTrip(t *testing.T) {
	ca := testtls.NewCA(t)
	serverTLS := ca.ServerClientConfig(ca.Issue(t, "server", net.IPv4(127, 0, 0, 1)))
	clientTLS := ca.ServerClientConfig(ca.Issue(t, "client", net.IPv4(127, 0, 0, 1)))
	for _, tt := range []struct {
		name           string
		server, client *tls.Config
	}{{"plain", nil, nil}, {"mutual TLS", serverTLS, clientTLS}} {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, echo, serverSetup{tls: tt.server})
			c := newClient(t, ClientOptions{Dialer: mux.Dialer{TLS: tt.client}})
			req, err := wire.Encode(0, &wire.JoinRequest{ID: "n2", Addr: "10.0.0.2:7000"})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Call(context.Background(), ts.addr, req)
			if err != nil {
				t.Fatalf("Call: %v", err)
			}
			var got wire.JoinRequest
			if err := wire.Decode(resp, &got); err != nil || got.ID != "n2" {
				t.Fatalf("response %+v, %v", got, err)
			}
			for i := range 5 {
				callOK(t, c, ts.addr, fmt.Sprint("sequential ", i))
			}
			if n := ts.ln.accepted.Load(); n != 1 {
				t.Fatalf("sequential calls used %d connections, want 1", n)
			}
		})
	}
}

func TestForeignClientCertificateIsNotSent(t *testing.T) {
	ca, other := testtls.NewCA(t), testtls.NewCA(t)
	serverTLS := ca.ServerClientConfig(ca.Issue(t, "server", net.IPv4(127, 0, 0, 1)))
	foreign := other.ServerClientConfig(other.Issue(t, "intruder", net.IPv4(127, 0, 0, 1)))
	foreign.RootCAs = ca.Pool // it trusts the server; the server must not trust it
	var handled atomic.Int64
	ts := startServer(t, func(ctx context.Context, req wire.Frame) wire.Frame {
		handled.Add(1)
		return echo(ctx, req)
	}, serverSetup{tls: serverTLS})
	c := newClient(t, ClientOptions{Dialer: mux.Dialer{TLS: foreign}})
	_, err := c.Call(context.Background(), ts.addr, frame("let me in"))
	checkOutcome(t, err, ErrNotSent)
	if n, h := ts.ln.accepted.Load(), handled.Load(); n != 0 || h != 0 {
		t.Fatalf("server accepted %d connections and handled %d requests from a foreign client", n, h)
	}
}

func TestConcurrentCallsShareConnsPerAddr(t *testing.T) {
	const calls = 200
	const barrier = 20 // the first calls wait for each other, forcing overlap
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	ts := startServer(t, func(ctx context.Context, req wire.Frame) wire.Frame {
		mu.Lock()
		arrived++
		if arrived == barrier {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
		case <-ctx.Done():
		}
		return echo(ctx, req)
	}, serverSetup{})
	c := newClient(t, ClientOptions{ConnsPerAddr: 2})

	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf("call-%03d", i)
			resp, err := c.Call(context.Background(), ts.addr, frame(body))
			if err == nil && string(resp.Body) != body {
				err = fmt.Errorf("call %q got the response %q", body, resp.Body)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := ts.ln.accepted.Load(); n != 2 {
		t.Fatalf("%d concurrent calls used %d connections, want ConnsPerAddr = 2", calls, n)
	}
	if n := c.connCount(ts.addr); n != 2 {
		t.Fatalf("client holds %d connections, want 2", n)
	}
}

// blockingHandler echoes, except that requests with body "slow" wait for
// release (or their ctx). It counts the slow requests entered.
type blockingHandler struct {
	release chan struct{}
	mu      sync.Mutex
	entered int
	ctxErrs []error
}

func newBlockingHandler() *blockingHandler { return &blockingHandler{release: make(chan struct{})} }

func (h *blockingHandler) serve(ctx context.Context, req wire.Frame) wire.Frame {
	if string(req.Body) == "slow" {
		h.mu.Lock()
		h.entered++
		h.mu.Unlock()
		select {
		case <-h.release:
		case <-ctx.Done():
			h.mu.Lock()
			h.ctxErrs = append(h.ctxErrs, ctx.Err())
			h.mu.Unlock()
		}
	}
	return echo(ctx, req)
}

func (h *blockingHandler) enteredCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.entered
}

func TestDeadlineOnSlowHandlerLeavesConnUsable(t *testing.T) {
	h := newBlockingHandler()
	ts := startServer(t, h.serve, serverSetup{})
	c := newClient(t, ClientOptions{ConnsPerAddr: 1})
	callOK(t, c, ts.addr, "warm up")

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Call(ctx, ts.addr, frame("slow"))
	checkOutcome(t, err, ErrNoResponse, context.DeadlineExceeded)
	if h.enteredCount() != 1 {
		t.Fatalf("handler entered %d times, want 1: the request was sent", h.enteredCount())
	}

	callOK(t, c, ts.addr, "after the deadline")
	close(h.release) // the late response arrives and must be discarded
	callOK(t, c, ts.addr, "after the late response")
	callOK(t, c, ts.addr, "and again")
	if n := ts.ln.accepted.Load(); n != 1 {
		t.Fatalf("used %d connections, want the first one throughout", n)
	}
}

func TestCallBeforeSendingHonoursContext(t *testing.T) {
	ts := startServer(t, echo, serverSetup{})
	c := newClient(t, ClientOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Call(ctx, ts.addr, frame("x"))
	checkOutcome(t, err, ErrNotSent, context.Canceled)
}

func TestDialFailureIsNotSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := newClient(t, ClientOptions{})
	_, err = c.Call(context.Background(), addr, frame("x"))
	checkOutcome(t, err, ErrNotSent)
	if n := c.connCount(addr); n != 0 {
		t.Fatalf("client keeps %d connections to a dead address", n)
	}
}

func TestHandlerPanicIsAnsweredAndContained(t *testing.T) {
	ts := startServer(t, func(ctx context.Context, req wire.Frame) wire.Frame {
		if string(req.Body) == "boom" {
			panic("handler bug")
		}
		return echo(ctx, req)
	}, serverSetup{})
	c := newClient(t, ClientOptions{})
	resp, err := c.Call(context.Background(), ts.addr, frame("boom"))
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	var st wire.Status
	if err := wire.Decode(resp, &st); err != nil || st.Code != wire.CodeInternal {
		t.Fatalf("response to a panic = %v %+v (%v), want TypeError CodeInternal", resp.Type, st, err)
	}
	callOK(t, c, ts.addr, "still serving")
}

func TestServeAfterCloseReturnsNil(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(ln, echo, ServerOptions{})
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatalf("Serve after Close = %v, want nil", err)
	}
}
