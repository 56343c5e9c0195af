package mux

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// blackHole accepts TCP connections and never answers; it is closed, with
// its connections, at the end of the test.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

func TestDialIsBoundedByContextAndTimeout(t *testing.T) {
	_, clientTLS, _ := mutualTLS(t)
	addr := blackHole(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		dialer Dialer
		ctx    func() (context.Context, context.CancelFunc)
		want   error
	}{
		{"context deadline, plain", Dialer{}, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, context.DeadlineExceeded},
		{"context deadline, TLS", Dialer{TLS: clientTLS}, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, context.DeadlineExceeded},
		{"dialer timeout", Dialer{Timeout: 100 * time.Millisecond}, func() (context.Context, context.CancelFunc) {
			return context.Background(), func() {}
		}, context.DeadlineExceeded},
		{"cancelled context", Dialer{}, func() (context.Context, context.CancelFunc) {
			return cancelled, func() {}
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			c, err := tt.dialer.Dial(ctx, addr, KindRPC)
			if c != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Dial = %v, %v; want an error wrapping %v", c, err, tt.want)
			}
		})
	}
}

func TestDialCancelledMidHandshake(t *testing.T) {
	addr := blackHole(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := (Dialer{Timeout: time.Minute}).Dial(ctx, addr, KindRPC)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Dial after cancel = %v, want context.Canceled", err)
	}
}

func TestDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := (Dialer{}).Dial(context.Background(), addr, KindRPC); err == nil {
		t.Fatal("Dial to a closed port succeeded")
	}
}
