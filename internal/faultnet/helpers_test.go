package faultnet

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// server is a loopback listener registered as a member; accepted
// connections arrive on conns.
type server struct {
	ln    net.Listener
	conns chan net.Conn
}

func newServer(t *testing.T, n *Network, name string) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, conns: make(chan net.Conn, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		close(s.conns)
		for c := range s.conns {
			c.Close()
		}
	})
	n.Register(name, ln.Addr().String())
	return s
}

func (s *server) addr() string { return s.ln.Addr().String() }

// accept returns the next accepted connection, closed at cleanup.
func (s *server) accept(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-s.conns:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no connection accepted within 10s")
		return nil
	}
}

func dial(t *testing.T, n *Network, from, addr string) net.Conn {
	t.Helper()
	c, err := tryDial(n, from, addr)
	if err != nil {
		t.Fatalf("dial %s -> %s: %v", from, addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func tryDial(n *Network, from, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return n.Dialer(from)(ctx, "tcp", addr)
}

// readN reads exactly n bytes within 10s.
func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return buf
}

// nothingWithin asserts that c delivers no byte for d: a held direction.
func nothingWithin(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	var b [1]byte
	k, err := c.Read(b[:])
	if k > 0 {
		t.Fatalf("a byte (%q) crossed a held direction", b[:k])
	}
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("read on a held direction: want a timeout, got %v", err)
	}
}

func write(t *testing.T, c net.Conn, p []byte) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	defer c.SetWriteDeadline(time.Time{})
	if _, err := c.Write(p); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// closedWithin asserts that c reaches end of file (after any bytes
// still buffered) within 10s, and returns the bytes read before it.
func closedWithin(t *testing.T, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection not closed within 10s")
	}
	return b
}
