package rpc

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/testutil"
	"github.com/raftkit/raftkit/internal/wire"
)

// collect calls Next until it reports false and returns the replies by
// index, failing on a duplicate.
func collect(t *testing.T, m *Multicall, n int) []Reply {
	t.Helper()
	got := make([]Reply, n)
	seen := make([]bool, n)
	for {
		r, ok := m.Next()
		if !ok {
			break
		}
		if r.Index < 0 || r.Index >= n || seen[r.Index] {
			t.Fatalf("reply for index %d: out of range or duplicate", r.Index)
		}
		seen[r.Index] = true
		got[r.Index] = r
	}
	for i, s := range seen {
		if !s {
			t.Fatalf("no reply for index %d", i)
		}
	}
	return got
}

func TestMulticallRepliesFromEveryAddress(t *testing.T) {
	var addrs []string
	var servers []*testServer
	for range 3 {
		ts := startServer(t, echo, serverSetup{})
		servers = append(servers, ts)
		addrs = append(addrs, ts.addr)
	}
	c := newClient(t, ClientOptions{})
	// The first Multicall dials; the second finds quiet connections and
	// writes on them itself.
	for round := range 2 {
		m := c.Multicall(context.Background(), addrs, frame("ping"))
		for i, r := range collect(t, m, len(addrs)) {
			if r.Err != nil || string(r.Frame.Body) != "ping" {
				t.Fatalf("round %d, server %d: %q, %v", round, i, r.Frame.Body, r.Err)
			}
		}
		m.Close()
		m.Close() // idempotent
		if _, ok := m.Next(); ok {
			t.Fatal("Next after Close reported a reply")
		}
	}
	for i, ts := range servers {
		if n := ts.ln.accepted.Load(); n != 1 {
			t.Fatalf("server %d accepted %d connections, want 1", i, n)
		}
	}
}

// TestMulticallQuorumDoesNotWaitForAPeerThatNeverAnswers: a caller that
// needs two replies of three gets them while the third server holds its
// request, and Close returns at once. The next Multicall does not write
// behind the unanswered request: it sends on another connection.
func TestMulticallQuorumDoesNotWaitForAPeerThatNeverAnswers(t *testing.T) {
	stuck := newBlockingHandler()
	servers := []*testServer{
		startServer(t, echo, serverSetup{}),
		startServer(t, stuck.serve, serverSetup{}),
		startServer(t, echo, serverSetup{}),
	}
	addrs := []string{servers[0].addr, servers[1].addr, servers[2].addr}
	c := newClient(t, ClientOptions{})
	for _, a := range addrs {
		callOK(t, c, a, "warm up")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	m := c.Multicall(ctx, addrs, frame("slow"))
	for range 2 {
		r, ok := m.Next()
		if !ok || r.Err != nil || r.Index == 1 {
			t.Fatalf("Next = %+v, %v; want a reply from a server that answers", r, ok)
		}
	}
	m.Close()
	if stuck.enteredCount() != 1 {
		t.Fatalf("the stuck server got %d requests, want 1", stuck.enteredCount())
	}

	m = c.Multicall(ctx, addrs, frame("fast"))
	defer m.Close()
	for i, r := range collect(t, m, len(addrs)) {
		if r.Err != nil || string(r.Frame.Body) != "fast" {
			t.Fatalf("server %d: %q, %v", i, r.Frame.Body, r.Err)
		}
	}
	if n := servers[1].ln.accepted.Load(); n != 2 {
		t.Fatalf("the stuck server accepted %d connections, want 2: a request must not queue behind an unanswered one", n)
	}
	close(stuck.release) // the late answer is discarded
}

func TestMulticallCancelEndsTheCallsStillOut(t *testing.T) {
	for _, warm := range []bool{true, false} {
		name := "written by Multicall"
		if !warm {
			name = "dialed by a goroutine"
		}
		t.Run(name, func(t *testing.T) {
			stuck := newBlockingHandler()
			good := startServer(t, echo, serverSetup{})
			bad := startServer(t, stuck.serve, serverSetup{})
			c := newClient(t, ClientOptions{})
			if warm {
				callOK(t, c, good.addr, "warm up")
				callOK(t, c, bad.addr, "warm up")
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			m := c.Multicall(ctx, []string{bad.addr, good.addr}, frame("slow"))
			defer m.Close()
			if r, ok := m.Next(); !ok || r.Index != 1 || r.Err != nil {
				t.Fatalf("first reply %+v, %v; want the answering server's", r, ok)
			}
			testutil.WaitFor(t, 5*time.Second, "the stuck handler to start", func() bool { return stuck.enteredCount() == 1 })
			cancel()
			r, ok := m.Next()
			if !ok || r.Index != 0 {
				t.Fatalf("after cancel, Next = %+v, %v; want the stuck call's reply", r, ok)
			}
			checkOutcome(t, r.Err, ErrNoResponse, context.Canceled)
			if _, ok := m.Next(); ok {
				t.Fatal("Next reported a reply after every call had one")
			}
		})
	}
}

func TestMulticallBadInput(t *testing.T) {
	ts := startServer(t, echo, serverSetup{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	closed := NewClient(ClientOptions{})
	closed.Close()

	for _, tt := range []struct {
		name  string
		c     *Client
		ctx   context.Context
		addrs []string
		req   wire.Frame
		want  []error // besides ErrNotSent, for every reply
	}{
		{"no addresses", newClient(t, ClientOptions{}), context.Background(), nil, frame("x"), nil},
		{"body over MaxBody", newClient(t, ClientOptions{MaxBody: 16}), context.Background(), []string{ts.addr, ts.addr}, frame("seventeen bytes!!"), []error{wire.ErrFrameTooLarge}},
		{"ctx already done", newClient(t, ClientOptions{}), done, []string{ts.addr}, frame("x"), []error{context.Canceled}},
		{"nobody listening", newClient(t, ClientOptions{}), context.Background(), []string{dead}, frame("x"), nil},
		{"client closed", closed, context.Background(), []string{ts.addr}, frame("x"), []error{ErrClosed}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := ts.ln.accepted.Load()
			m := tt.c.Multicall(tt.ctx, tt.addrs, tt.req)
			defer m.Close()
			for _, r := range collect(t, m, len(tt.addrs)) {
				checkOutcome(t, r.Err, ErrNotSent, tt.want...)
			}
			if n := ts.ln.accepted.Load() - before; n != 0 {
				t.Fatalf("a Multicall that sends nothing opened %d connections", n)
			}
		})
	}
}
