package rpc

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
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
		m := c.Multicall(context.Background(), addrs, frame("ping"), MulticallOptions{})
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

	m := c.Multicall(ctx, addrs, frame("slow"), MulticallOptions{})
	for range 2 {
		r, ok := m.Next()
		if !ok || r.Err != nil || r.Index == 1 {
			t.Fatalf("Next = %+v, %v; want a reply from a server that answers", r, ok)
		}
	}
	m.Close()
	testutil.WaitFor(t, 5*time.Second, "the stuck server to get the request", func() bool { return stuck.enteredCount() == 1 })

	m = c.Multicall(ctx, addrs, frame("fast"), MulticallOptions{})
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
			m := c.Multicall(ctx, []string{bad.addr, good.addr}, frame("slow"), MulticallOptions{})
			defer m.Close()
			if r, ok := m.Next(); !ok || r.Index != 1 || r.Err != nil {
				t.Fatalf("first reply %+v, %v; want the answering server's", r, ok)
			}
			testutil.WaitFor(t, 5*time.Second, "the stuck handler to start", func() bool { return stuck.enteredCount() == 1 })
			cancel()
			// Next returns false, or first the stuck call's failure
			// when it has already come back.
			if r, ok := m.Next(); ok {
				if r.Index != 0 {
					t.Fatalf("after cancel, Next = %+v; want the stuck call's failure or nothing", r)
				}
				checkOutcome(t, r.Err, ErrNoResponse, context.Canceled)
				if r, ok := m.Next(); ok {
					t.Fatalf("Next = %+v after every call had a reply", r)
				}
			}
			m.Close() // returns once the goroutine's call, if any, has ended
		})
	}
}

// TestMulticallRecycledStateCarriesNoStaleReply: each Multicall is
// closed while one of its calls is still out, and that call's answer
// arrives while the next Multicall runs on the recycled state; every
// reply a Multicall returns must still be its own.
func TestMulticallRecycledStateCarriesNoStaleReply(t *testing.T) {
	var gate atomic.Pointer[chan struct{}]
	held := func(ctx context.Context, req wire.Frame) wire.Frame {
		select {
		case <-*gate.Load():
		case <-ctx.Done():
		}
		return echo(ctx, req)
	}
	addrs := []string{startServer(t, echo, serverSetup{}).addr, startServer(t, held, serverSetup{}).addr}
	c := newClient(t, ClientOptions{})
	open := make(chan struct{})
	close(open)
	gate.Store(&open)
	callOK(t, c, addrs[0], "warm up")
	callOK(t, c, addrs[1], "warm up")
	for round := range 50 {
		g := make(chan struct{})
		gate.Store(&g)
		body := fmt.Sprintf("round %d", round)
		m := c.Multicall(context.Background(), addrs, frame(body), MulticallOptions{})
		r, ok := m.Next()
		if !ok || r.Err != nil || string(r.Frame.Body) != body {
			t.Fatalf("round %d: Next = %q, %v, %v; want %q", round, r.Frame.Body, r.Err, ok, body)
		}
		if r.Index == 1 {
			t.Fatalf("round %d: a reply from the held server before it was released", round)
		}
		close(g) // the held call answers while the next round runs
		m.Close()
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
		{"nobody listening", newClient(t, ClientOptions{}), context.Background(), []string{dead}, frame("x"), nil},
		{"client closed", closed, context.Background(), []string{ts.addr}, frame("x"), []error{ErrClosed}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := ts.ln.accepted.Load()
			m := tt.c.Multicall(tt.ctx, tt.addrs, tt.req, MulticallOptions{})
			defer m.Close()
			for _, r := range collect(t, m, len(tt.addrs)) {
				checkOutcome(t, r.Err, ErrNotSent, tt.want...)
			}
			if n := ts.ln.accepted.Load() - before; n != 0 {
				t.Fatalf("a Multicall that sends nothing opened %d connections", n)
			}
		})
	}
	t.Run("ctx already done", func(t *testing.T) {
		before := ts.ln.accepted.Load()
		m := newClient(t, ClientOptions{}).Multicall(done, []string{ts.addr}, frame("x"), MulticallOptions{})
		if r, ok := m.Next(); ok {
			t.Fatalf("Next = %+v, true; want false", r)
		}
		m.Close()
		if n := ts.ln.accepted.Load() - before; n != 0 {
			t.Fatalf("a Multicall that sends nothing opened %d connections", n)
		}
	})
}

// countingEcho is an echo handler that counts the requests it served.
type countingEcho struct{ n atomic.Int64 }

func (h *countingEcho) serve(ctx context.Context, req wire.Frame) wire.Frame {
	h.n.Add(1)
	return echo(ctx, req)
}

func TestMulticallFirstSendsToTheRestOnlyWhenAsked(t *testing.T) {
	hs := []*countingEcho{{}, {}, {}}
	var addrs []string
	for _, h := range hs {
		addrs = append(addrs, startServer(t, h.serve, serverSetup{}).addr)
	}
	c := newClient(t, ClientOptions{})
	m := c.Multicall(context.Background(), addrs, frame("x"), MulticallOptions{First: 2, HedgeAfter: time.Hour})
	defer m.Close()
	for range 2 {
		if r, ok := m.Next(); !ok || r.Err != nil || r.Index == 2 {
			t.Fatalf("Next = %+v, %v; want a reply from one of the first two servers", r, ok)
		}
	}
	if n := hs[2].n.Load(); n != 0 {
		t.Fatalf("the third server got %d requests before anyone asked for a third reply", n)
	}
	// Asking for more than the first calls gave sends to the rest.
	if r, ok := m.Next(); !ok || r.Err != nil || r.Index != 2 {
		t.Fatalf("third Next = %+v, %v; want the third server's reply", r, ok)
	}
	if _, ok := m.Next(); ok {
		t.Fatal("Next reported a fourth reply")
	}
}

// TestMulticallFirstHedgesAroundAStalledServer: the server sent to first
// holds its request, so after HedgeAfter the request goes to the other,
// whose reply comes back; the next Multicall asks the one that answered
// first and leaves the stalled one alone.
func TestMulticallFirstHedgesAroundAStalledServer(t *testing.T) {
	stuck := newBlockingHandler()
	fast := &countingEcho{}
	addrs := []string{ // neither measured yet: the first is asked first
		startServer(t, stuck.serve, serverSetup{}).addr,
		startServer(t, fast.serve, serverSetup{}).addr,
	}
	c := newClient(t, ClientOptions{})
	callOK(t, c, addrs[0], "warm up")
	callOK(t, c, addrs[1], "warm up")
	opts := MulticallOptions{First: 1, HedgeAfter: 20 * time.Millisecond}
	for round := range 3 {
		m := c.Multicall(context.Background(), addrs, frame("slow"), opts)
		r, ok := m.Next()
		m.Close()
		if !ok || r.Err != nil || r.Index != 1 {
			t.Fatalf("round %d: Next = %+v, %v; want the answering server's reply", round, r, ok)
		}
	}
	if n := stuck.enteredCount(); n != 1 {
		t.Fatalf("the stalled server got %d requests, want 1: it must be asked last once it failed to answer", n)
	}
	if n := fast.n.Load(); n != 4 { // warm-up and three rounds
		t.Fatalf("the answering server served %d requests, want 4", n)
	}
	close(stuck.release)
}

func TestMulticallFirstSendsToTheRestWhenACallFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	good := startServer(t, echo, serverSetup{})
	c := newClient(t, ClientOptions{})
	m := c.Multicall(context.Background(), []string{dead, good.addr}, frame("x"), MulticallOptions{First: 1, HedgeAfter: time.Hour})
	defer m.Close()
	r, ok := m.Next()
	if !ok || r.Index != 0 {
		t.Fatalf("first Next = %+v, %v; want the dead address's failure", r, ok)
	}
	checkOutcome(t, r.Err, ErrNotSent)
	if r, ok := m.Next(); !ok || r.Err != nil || r.Index != 1 {
		t.Fatalf("second Next = %+v, %v; want the live server's reply", r, ok)
	}
}
