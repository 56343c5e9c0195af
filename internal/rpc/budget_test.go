package rpc

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/testutil"
	"github.com/raftkit/raftkit/internal/wire"
)

// floodMaxSize writes n requests of size bytes each on a raw RPC connection
// and never reads an answer. The writes run until the connection closes.
func floodMaxSize(t *testing.T, addr string, n, size int) {
	t.Helper()
	c := rawRPC(t, addr)
	body := make([]byte, size)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			if wire.WriteFrame(c, wire.Frame{Type: wire.TypeApplyRequest, ID: uint64(i + 1), Body: body}) != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
}

// holdingHandler counts the requests it holds until release closes.
type holdingHandler struct {
	release chan struct{}
	entered atomic.Int64
}

func (h *holdingHandler) serve(ctx context.Context, req wire.Frame) wire.Frame {
	h.entered.Add(1)
	select {
	case <-h.release:
	case <-ctx.Done():
	}
	return wire.Frame{Type: req.Type}
}

func TestInFlightBytesAreBoundedPerConnection(t *testing.T) {
	const size = 1 << 20
	h := &holdingHandler{release: make(chan struct{})}
	ts := startServer(t, h.serve, serverSetup{opts: ServerOptions{
		MaxBody:                 size,
		MaxInFlightBytesPerConn: 3 * size,
	}})
	floodMaxSize(t, ts.addr, 20, size)
	testutil.WaitFor(t, 10*time.Second, "the reader to wait for the byte budget", func() bool {
		return h.entered.Load() > 3 || ts.srv.throttled.Load() > 0
	})
	if held := int(h.entered.Load()) * size; held > 3*size {
		t.Fatalf("one connection holds %d bytes of requests in flight, budget %d", held, 3*size)
	}
	close(h.release)
}

func TestInFlightBytesAreBoundedPerServer(t *testing.T) {
	const size = 1 << 20
	h := &holdingHandler{release: make(chan struct{})}
	ts := startServer(t, h.serve, serverSetup{opts: ServerOptions{
		MaxBody:                 size,
		MaxInFlightBytesPerConn: 3 * size,
		MaxInFlightBytes:        4 * size,
	}})
	for range 3 {
		floodMaxSize(t, ts.addr, 10, size)
	}
	testutil.WaitFor(t, 10*time.Second, "three readers to wait for the byte budget", func() bool {
		return h.entered.Load() > 4 || ts.srv.throttled.Load() >= 3
	})
	if held := int(h.entered.Load()) * size; held > 4*size {
		t.Fatalf("the server holds %d bytes of requests in flight, budget %d", held, 4*size)
	}
	close(h.release)
}

func TestConnContextReachesTheHandler(t *testing.T) {
	type key struct{}
	got := make(chan any, 1)
	h := func(ctx context.Context, req wire.Frame) wire.Frame {
		select {
		case got <- ctx.Value(key{}):
		default:
		}
		return echo(ctx, req)
	}
	ts := startServer(t, h, serverSetup{opts: ServerOptions{
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, key{}, c.RemoteAddr().Network())
		},
	}})
	callOK(t, newClient(t, ClientOptions{}), ts.addr, "x")
	if v := <-got; v != "tcp" {
		t.Fatalf("handler saw %v, want the ConnContext value", v)
	}
}
