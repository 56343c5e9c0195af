package rpc

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/mux"
	"github.com/raftkit/raftkit/internal/testutil"
	"github.com/raftkit/raftkit/internal/wire"
)

// connTags numbers a server's connections in the order they are served
// and records which one each request arrived on.
type connTags struct {
	mu    sync.Mutex
	conns []net.Conn
	on    []int // connection number of each request, in arrival order
}

type connTagKey struct{}

func (ct *connTags) connContext(ctx context.Context, conn net.Conn) context.Context {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	ct.conns = append(ct.conns, conn)
	return context.WithValue(ctx, connTagKey{}, len(ct.conns)-1)
}

func (ct *connTags) serve(ctx context.Context, req wire.Frame) wire.Frame {
	ct.mu.Lock()
	ct.on = append(ct.on, ctx.Value(connTagKey{}).(int))
	ct.mu.Unlock()
	return echo(ctx, req)
}

// last returns the connection number of the latest request.
func (ct *connTags) last() int {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return ct.on[len(ct.on)-1]
}

func (ct *connTags) conn(i int) net.Conn {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return ct.conns[i]
}

// hasIdleDirect reports whether c holds an idle dedicated connection to
// addr.
func (c *Client) hasIdleDirect(addr string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.peers[addr]
	return p != nil && p.direct != nil && !p.directBusy
}

// directMulticall runs a Direct Multicall of body to addrs, First 1, and
// returns its first reply.
func directMulticall(t *testing.T, c *Client, ctx context.Context, addrs []string, body string, hedge time.Duration) Reply {
	t.Helper()
	m := c.Multicall(ctx, addrs, frame(body), MulticallOptions{First: 1, HedgeAfter: hedge, Direct: true})
	defer m.Close()
	r, ok := m.Next()
	if !ok {
		t.Fatalf("Multicall of %q: no reply", body)
	}
	return r
}

// warmDirect makes c dial its dedicated connection to addr and waits for
// it to be idle.
func warmDirect(t *testing.T, c *Client, addr string) {
	t.Helper()
	callOK(t, c, addr, "warm up") // the shared connection comes first
	testutil.WaitFor(t, 5*time.Second, "a dedicated connection", func() bool {
		if r := directMulticall(t, c, context.Background(), []string{addr}, "warm up", 0); r.Err != nil {
			t.Fatalf("warm-up Multicall: %v", r.Err)
		}
		return c.hasIdleDirect(addr)
	})
}

// TestMulticallDirectReusesOneDedicatedConnection: once dialed, the
// dedicated connection carries the Direct calls, one at a time, and stays
// the only one beside the shared connection.
func TestMulticallDirectReusesOneDedicatedConnection(t *testing.T) {
	ct := &connTags{}
	ts := startServer(t, ct.serve, serverSetup{opts: ServerOptions{ConnContext: ct.connContext}})
	c := newClient(t, ClientOptions{})
	warmDirect(t, c, ts.addr)
	for i := range 50 {
		body := fmt.Sprint(i)
		if r := directMulticall(t, c, context.Background(), []string{ts.addr}, body, 0); r.Err != nil || string(r.Frame.Body) != body {
			t.Fatalf("reply %d: %q, %v", i, r.Frame.Body, r.Err)
		}
		if i == 0 && ct.last() != 1 {
			t.Fatalf("a Direct call on an idle client went over connection %d, want the dedicated one (1)", ct.last())
		}
	}
	if n := ts.ln.accepted.Load(); n != 2 {
		t.Fatalf("server accepted %d connections, want 2 (shared and dedicated)", n)
	}
	// A Multicall without Direct stays on the shared connection.
	m := c.Multicall(context.Background(), []string{ts.addr}, frame("shared"), MulticallOptions{})
	collect(t, m, 1)
	m.Close()
	if got := ct.last(); got != 0 {
		t.Fatalf("a Multicall without Direct went over connection %d, want the shared one (0)", got)
	}
}

// TestMulticallDirectConcurrentCallsShareTheBound: Multicalls running at
// once all get their own answers; only one at a time holds the dedicated
// connection, the others go over the shared ones.
func TestMulticallDirectConcurrentCallsShareTheBound(t *testing.T) {
	var addrs []string
	var tags []*connTags
	for range 2 {
		ct := &connTags{}
		ts := startServer(t, ct.serve, serverSetup{opts: ServerOptions{ConnContext: ct.connContext}})
		tags = append(tags, ct)
		addrs = append(addrs, ts.addr)
	}
	c := newClient(t, ClientOptions{})
	warmDirect(t, c, addrs[0])
	warmDirect(t, c, addrs[1])
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				body := fmt.Sprintf("%d/%d", g, i)
				m := c.Multicall(context.Background(), addrs, frame(body), MulticallOptions{First: 1, Direct: true})
				r, ok := m.Next()
				m.Close()
				if !ok || r.Err != nil || string(r.Frame.Body) != body {
					t.Errorf("%s: %q, %v, %v", body, r.Frame.Body, r.Err, ok)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Connections that served requests (a shared connection's dial that
	// a Multicall's Close aborted may have been accepted, and served none).
	for i, ct := range tags {
		ct.mu.Lock()
		used := map[int]bool{}
		for _, n := range ct.on {
			used[n] = true
		}
		ct.mu.Unlock()
		if len(used) > DefaultConnsPerAddr+1 {
			t.Fatalf("server %d served requests on %d connections, want at most %d shared and 1 dedicated", i, len(used), DefaultConnsPerAddr)
		}
	}
}

// TestMulticallDirectHedgesAroundAStalledServer: the server asked first
// holds the request on the dedicated connection; after the hedge delay
// the other answers, Close does not wait for the held answer, and while
// it is owed later calls go over the shared connection.
func TestMulticallDirectHedgesAroundAStalledServer(t *testing.T) {
	stuck := newBlockingHandler()
	fast := &countingEcho{}
	addrs := []string{
		startServer(t, stuck.serve, serverSetup{}).addr,
		startServer(t, fast.serve, serverSetup{}).addr,
	}
	c := newClient(t, ClientOptions{})
	warmDirect(t, c, addrs[0])
	warmDirect(t, c, addrs[1])
	c.mu.Lock()
	c.peers[addrs[0]].rtt, c.peers[addrs[1]].rtt = time.Microsecond, time.Millisecond // the stuck one first
	c.mu.Unlock()

	start := time.Now()
	r := directMulticall(t, c, context.Background(), addrs, "slow", 20*time.Millisecond)
	if r.Err != nil || r.Index != 1 {
		t.Fatalf("reply %+v; want the answering server's", r)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the hedged Multicall took %v", d)
	}
	testutil.WaitFor(t, 5*time.Second, "the stuck server to get the request", func() bool { return stuck.enteredCount() == 1 })
	if c.hasIdleDirect(addrs[0]) {
		t.Fatal("the dedicated connection is idle while its answer is owed")
	}
	// The stalled server's unanswered call counted toward its round trip,
	// so it is asked second now, and the fast one answers.
	if r := directMulticall(t, c, context.Background(), addrs, "next", time.Hour); r.Err != nil || r.Index != 1 {
		t.Fatalf("reply %+v; want the answering server's", r)
	}
	// Once the held answer arrives (nobody wants it), the dedicated
	// connection is idle again.
	close(stuck.release)
	testutil.WaitFor(t, 5*time.Second, "the dedicated connection to be released", func() bool { return c.hasIdleDirect(addrs[0]) })
	if r := directMulticall(t, c, context.Background(), addrs[:1], "again", 0); r.Err != nil || string(r.Frame.Body) != "again" {
		t.Fatalf("reply after the release: %+v", r)
	}
}

// TestMulticallDirectCancel: a Multicall waiting on its dedicated
// connection notices its ctx's end, and its Close returns at once; the
// client's Close ends the wait for the owed answer (goleak).
func TestMulticallDirectCancel(t *testing.T) {
	stuck := newBlockingHandler()
	defer close(stuck.release)
	ts := startServer(t, stuck.serve, serverSetup{})
	c := NewClient(ClientOptions{})
	defer c.Close()
	warmDirect(t, c, ts.addr)
	ctx, cancel := context.WithCancel(context.Background())
	m := c.Multicall(ctx, []string{ts.addr}, frame("slow"), MulticallOptions{Direct: true})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if r, ok := m.Next(); ok {
			t.Errorf("Next = %+v after ctx was cancelled; want false", r)
		}
		m.Close()
	}()
	testutil.WaitFor(t, 5*time.Second, "the stuck handler to start", func() bool { return stuck.enteredCount() == 1 })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Next and Close did not return after ctx was cancelled")
	}
	callOK(t, c, ts.addr, "the shared connection still serves")
	c.Close()
}

// TestMulticallDirectStaleConnectionIsAskedAgain: the server dropped the
// idle dedicated connection; the next Direct call still gets its answer,
// over the shared connection, and a new dedicated one replaces it.
func TestMulticallDirectStaleConnectionIsAskedAgain(t *testing.T) {
	ct := &connTags{}
	ts := startServer(t, ct.serve, serverSetup{opts: ServerOptions{ConnContext: ct.connContext}})
	c := newClient(t, ClientOptions{})
	warmDirect(t, c, ts.addr)
	ct.conn(1).Close()
	for i := range 3 {
		if r := directMulticall(t, c, context.Background(), []string{ts.addr}, "after", 0); r.Err != nil || string(r.Frame.Body) != "after" {
			t.Fatalf("round %d after the dedicated connection was dropped: %+v", i, r)
		}
	}
	testutil.WaitFor(t, 5*time.Second, "a new dedicated connection", func() bool {
		directMulticall(t, c, context.Background(), []string{ts.addr}, "x", 0)
		return ts.ln.accepted.Load() == 3 && c.hasIdleDirect(ts.addr)
	})
}

// TestMulticallDirectHostileAnswers: a server that answers on the
// dedicated connection with a frame that is not the answer (another ID,
// a notice, an oversized or malformed frame, nothing at all) costs the
// call at most an error, never a panic or a large allocation; the
// connection is dropped and the shared one serves on.
func TestMulticallDirectHostileAnswers(t *testing.T) {
	for _, tt := range []struct {
		name   string
		answer func(req wire.Frame) []byte
	}{
		{"another ID", func(req wire.Frame) []byte {
			return frameBytes(wire.Frame{Type: req.Type, ID: req.ID + 1, Body: req.Body})
		}},
		{"going-away notice", func(wire.Frame) []byte { return frameBytes(goAwayNotice()) }},
		{"oversized", func(req wire.Frame) []byte {
			b := frameBytes(wire.Frame{Type: req.Type, ID: req.ID})
			binary.BigEndian.PutUint32(b, 1<<30)
			return b
		}},
		{"malformed", func(wire.Frame) []byte { return []byte{0, 0, 0, 3, 1, 2, 3} }},
		{"closed", func(wire.Frame) []byte { return nil }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr := hostileServer(t, tt.answer)
			c := newClient(t, ClientOptions{MaxBody: 1 << 20})
			callOK(t, c, addr, "warm up")
			testutil.WaitFor(t, 5*time.Second, "a dedicated connection", func() bool {
				return directAttempted(t, c, addr)
			})
			// The dedicated connection was dropped: a later call works.
			if r := directMulticall(t, c, context.Background(), []string{addr}, "later", time.Hour); r.Err != nil || string(r.Frame.Body) != "later" {
				// It may have been the next dedicated connection's turn.
				checkOutcome(t, r.Err, outcomeOf(r.Err))
			}
			callOK(t, c, addr, "the shared connection serves on")
		})
	}
}

// directAttempted runs a Direct call and reports whether its dedicated
// connection was used (and, the server being hostile, dropped). The call
// must end with the echo (asked again over the shared connection) or an
// error with a clear outcome.
func directAttempted(t *testing.T, c *Client, addr string) bool {
	t.Helper()
	had := c.hasIdleDirect(addr)
	r := directMulticall(t, c, context.Background(), []string{addr}, "x", time.Hour)
	if r.Err != nil {
		checkOutcome(t, r.Err, outcomeOf(r.Err))
	} else if string(r.Frame.Body) != "x" {
		t.Fatalf("answer %q, want the echo", r.Frame.Body)
	}
	return had
}

func outcomeOf(err error) error {
	if errors.Is(err, ErrNotSent) {
		return ErrNotSent
	}
	return ErrNoResponse
}

func frameBytes(f wire.Frame) []byte {
	var b bytesWriter
	wire.WriteFrame(&b, f)
	return b
}

type bytesWriter []byte

func (b *bytesWriter) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// hostileServer serves its first connection as an echo server and
// answers every request on later ones with answer(req), then closes them.
func hostileServer(t *testing.T, answer func(req wire.Frame) []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := mux.New(ln, nil, nil, mux.Options{})
	l := m.Listener(mux.KindRPC)
	var wg sync.WaitGroup
	var conns atomic.Int64
	var mu sync.Mutex
	var open []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, conn)
			mu.Unlock()
			first := conns.Add(1) == 1
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				r := bufio.NewReader(conn)
				for {
					req, err := wire.ReadFrame(r, 1<<20)
					if err != nil {
						return
					}
					if first {
						if wire.WriteFrame(conn, wire.Frame{Type: req.Type, ID: req.ID, Body: req.Body}) != nil {
							return
						}
						continue
					}
					conn.Write(answer(req))
					return
				}
			}()
		}
	}()
	t.Cleanup(func() {
		m.Close()
		l.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return m.Addr().String()
}
