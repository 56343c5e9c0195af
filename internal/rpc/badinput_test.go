package rpc

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand"
	"net"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/mux"
	"github.com/raftkit/raftkit/internal/wire"
)

// rawRPC dials the server as KindRPC and returns the bare connection.
func rawRPC(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := (mux.Dialer{}).Dial(context.Background(), addr, mux.KindRPC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readNotice reads the ID-0 notice a server sends before closing and checks
// that the connection then ends.
func readNotice(t *testing.T, c net.Conn) wire.Status {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	f, err := wire.ReadFrame(r, 1<<20)
	if err != nil {
		t.Fatalf("reading the notice: %v", err)
	}
	var st wire.Status
	if f.ID != 0 || wire.Decode(f, &st) != nil {
		t.Fatalf("notice = %+v, want a TypeError frame with ID 0", f)
	}
	if _, err := r.ReadByte(); err == nil {
		t.Fatal("connection still open after the notice")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection still open 5s after the notice")
	}
	return st
}

func TestBadFramesCloseOnlyTheirConnection(t *testing.T) {
	garbage := make([]byte, 64<<10)
	rand.New(rand.NewSource(7)).Read(garbage)
	binary.BigEndian.PutUint32(garbage, 3) // a length below the header

	tests := []struct {
		name  string
		input []byte
		want  wire.Code
	}{
		{"length below the header", []byte{0, 0, 0, 3, 1, 2, 3}, wire.CodeBadRequest},
		{"garbage", garbage, wire.CodeBadRequest},
		{"announced body over MaxBody", binary.BigEndian.AppendUint32(nil, 9+4096), wire.CodeTooLarge},
		{"body over MaxBody sent in full", append(binary.BigEndian.AppendUint32(nil, 9+64<<10), make([]byte, 9+64<<10)...), wire.CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newBlockingHandler()
			ts := startServer(t, h.serve, serverSetup{opts: ServerOptions{MaxBody: 1024}})
			// A call in flight on another connection must survive.
			bystander := newClient(t, ClientOptions{})
			errc := make(chan error, 1)
			go func() {
				_, err := bystander.Call(context.Background(), ts.addr, frame("slow"))
				errc <- err
			}()

			c := rawRPC(t, ts.addr)
			if _, err := c.Write(tt.input); err != nil {
				t.Fatal(err)
			}
			if st := readNotice(t, c); st.Code != tt.want {
				t.Fatalf("notice code %v (%s), want %v", st.Code, st.Message, tt.want)
			}
			close(h.release)
			if err := <-errc; err != nil {
				t.Fatalf("call on another connection failed: %v", err)
			}
			callOK(t, bystander, ts.addr, "still serving")
		})
	}
}

func TestRequestOverServerMaxBodyGivesAClearError(t *testing.T) {
	ts := startServer(t, echo, serverSetup{opts: ServerOptions{MaxBody: 1024}})
	c := newClient(t, ClientOptions{MaxBody: 1 << 20}) // misconfigured: larger than the server's
	_, err := c.Call(context.Background(), ts.addr, wire.Frame{Type: wire.TypeApplyRequest, Body: make([]byte, 4096)})
	checkOutcome(t, err, ErrNoResponse, wire.ErrFrameTooLarge)
	callOK(t, c, ts.addr, "small is fine")
}

func TestRequestOverClientMaxBodyIsNotSent(t *testing.T) {
	ts := startServer(t, echo, serverSetup{})
	c := newClient(t, ClientOptions{MaxBody: 1024})
	_, err := c.Call(context.Background(), ts.addr, wire.Frame{Type: wire.TypeApplyRequest, Body: make([]byte, 1025)})
	checkOutcome(t, err, ErrNotSent, wire.ErrFrameTooLarge)
	if n := ts.ln.accepted.Load(); n != 0 {
		t.Fatalf("an oversized request opened %d connections", n)
	}
}

func TestResponseOverClientMaxBodyKillsTheConn(t *testing.T) {
	ts := startServer(t, func(ctx context.Context, req wire.Frame) wire.Frame {
		if string(req.Body) == "big" {
			return wire.Frame{Type: wire.TypeApplyResponse, Body: make([]byte, 4096)}
		}
		return echo(ctx, req)
	}, serverSetup{})
	c := newClient(t, ClientOptions{MaxBody: 1024})
	_, err := c.Call(context.Background(), ts.addr, frame("big"))
	checkOutcome(t, err, ErrNoResponse, wire.ErrFrameTooLarge)
	callOK(t, c, ts.addr, "redialed")
	if n := ts.ln.accepted.Load(); n != 2 {
		t.Fatalf("used %d connections, want 2 (the killed one and a new one)", n)
	}
}

func TestResponseOverServerMaxBodyIsReplaced(t *testing.T) {
	ts := startServer(t, func(context.Context, wire.Frame) wire.Frame {
		return wire.Frame{Type: wire.TypeApplyResponse, Body: make([]byte, 4096)}
	}, serverSetup{opts: ServerOptions{MaxBody: 1024}})
	c := newClient(t, ClientOptions{})
	resp, err := c.Call(context.Background(), ts.addr, frame("x"))
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	var r wire.ApplyResponse
	if err := wire.Decode(resp, &r); err != nil || r.Code != wire.CodeTooLarge {
		t.Fatalf("response = %v %+v (%v), want TypeError CodeTooLarge", resp.Type, r.Status, err)
	}
}

func TestGarbageToThePortLeavesTheServerServing(t *testing.T) {
	ts := startServer(t, echo, serverSetup{muxOpts: mux.Options{HandshakeTimeout: 200 * time.Millisecond}})
	garbage := make([]byte, 4096)
	rand.New(rand.NewSource(3)).Read(garbage)
	for _, first := range []byte{0x00, 0xff, 'R' + 1} {
		garbage[0] = first
		raw, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		raw.Write(garbage)
		raw.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadAll(raw); err != nil && !errors.Is(err, net.ErrClosed) {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("garbage connection (first byte %#x) left open", first)
			}
		}
		raw.Close()
	}
	c := newClient(t, ClientOptions{})
	callOK(t, c, ts.addr, "unaffected")
}
