package mux

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"math/rand"
	"net"
	"os"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/testtls"
	"github.com/raftkit/raftkit/internal/testutil"
)

func TestKindsShareOnePort(t *testing.T) {
	serverTLS, clientTLS, _ := mutualTLS(t)
	tests := []struct {
		name       string
		server     *tls.Config
		client     *tls.Config
		wantTLSCon bool
	}{
		{"plain", nil, nil, false},
		{"mutual TLS", serverTLS, clientTLS, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := startMux(t, tt.server, Options{})
			serveTagged(t, m.Listener(KindRaft), "raft:")
			serveTagged(t, m.Listener(KindRPC), "rpc:")
			custom := m.Listener('X')
			serveTagged(t, custom, "x:")
			d := Dialer{TLS: tt.client}
			for _, k := range []struct {
				kind byte
				tag  string
			}{{KindRPC, "rpc:"}, {KindRaft, "raft:"}, {'X', "x:"}, {KindRPC, "rpc:"}} {
				c, err := d.Dial(context.Background(), m.Addr().String(), k.kind)
				if err != nil {
					t.Fatalf("Dial kind %q: %v", k.kind, err)
				}
				if _, isTLS := c.(*tls.Conn); isTLS != tt.wantTLSCon {
					t.Fatalf("dialed conn is %T", c)
				}
				roundTrip(t, c, "hello", k.tag+"hello")
				c.Close()
			}
		})
	}
}

func TestListenerReturnsTheSameListener(t *testing.T) {
	m, _ := startMux(t, nil, Options{})
	if m.Listener(KindRPC) != m.Listener(KindRPC) || m.Listener('Z') != m.Listener('Z') {
		t.Fatal("Listener returned different listeners for one kind")
	}
	if m.Listener(KindRPC) == m.Listener(KindRaft) {
		t.Fatal("two kinds share a listener")
	}
	if got, want := m.Listener(KindRaft).Addr().String(), m.Addr().String(); got != want {
		t.Fatalf("sub-listener Addr = %s, want the bound address %s", got, want)
	}
}

func TestAcceptedConnLosesNothingAfterTheKindByte(t *testing.T) {
	m, _ := startMux(t, nil, Options{})
	raw, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// Kind byte and payload in one write: the mux must read only the first.
	if _, err := raw.Write([]byte("Kpayload")); err != nil {
		t.Fatal(err)
	}
	c, err := m.Listener(KindRPC).Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ack := make([]byte, 1)
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(raw, ack); err != nil || ack[0] != KindRPC {
		t.Fatalf("acknowledgement = %q, %v; want %q", ack, err, KindRPC)
	}
	got := make([]byte, len("payload"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "payload" {
		t.Fatalf("accepted conn read %q, %v; want %q", got, err, "payload")
	}
}

func TestBadConnectionsAreClosedAndTheMuxKeepsServing(t *testing.T) {
	serverTLS, clientTLS, _ := mutualTLS(t)
	otherCA := testtls.NewCA(t)
	foreign := otherCA.ServerClientConfig(otherCA.Issue(t, "intruder", net.IPv4(127, 0, 0, 1)))
	foreign.RootCAs = clientTLS.RootCAs // trusts the server; the server must not trust it

	garbage := make([]byte, 4096)
	rand.New(rand.NewSource(1)).Read(garbage)
	garbage[0] = 0x00 // not a registered kind

	tests := []struct {
		name    string
		server  *tls.Config
		attack  func(t *testing.T, addr string)
		wantLog string
	}{
		{"unknown kind byte", nil, func(t *testing.T, addr string) {
			c := rawWrite(t, addr, garbage)
			expectClosed(t, c)
		}, "unknown kind"},
		{"silent connection", nil, func(t *testing.T, addr string) {
			c := rawWrite(t, addr, nil)
			expectClosed(t, c)
		}, "nothing received in time"},
		{"hang-up before the kind byte", nil, func(t *testing.T, addr string) {
			rawWrite(t, addr, nil).Close()
		}, ""},
		{"TLS client to a plain mux", nil, func(t *testing.T, addr string) {
			if _, err := (Dialer{TLS: clientTLS}).Dial(context.Background(), addr, KindRPC); err == nil {
				t.Fatal("TLS dial to a plain mux succeeded")
			}
		}, "the peer speaks TLS"},
		{"plain client to a TLS mux", serverTLS, func(t *testing.T, addr string) {
			if _, err := (Dialer{}).Dial(context.Background(), addr, KindRPC); !errors.Is(err, ErrRefused) {
				t.Fatalf("plain dial to a TLS mux: %v, want ErrRefused", err)
			}
		}, "requires TLS"},
		{"garbage to a TLS mux", serverTLS, func(t *testing.T, addr string) {
			// A TLS record type, then noise.
			expectClosed(t, rawWrite(t, addr, append([]byte{0x16}, garbage[1:]...)))
		}, "TLS handshake failed"},
		{"client certificate from another CA", serverTLS, func(t *testing.T, addr string) {
			_, err := (Dialer{TLS: foreign}).Dial(context.Background(), addr, KindRPC)
			if err == nil {
				t.Fatal("client with a foreign certificate was accepted")
			}
		}, "TLS handshake failed"},
		{"client without certificate", serverTLS, func(t *testing.T, addr string) {
			conf := &tls.Config{RootCAs: clientTLS.RootCAs}
			if _, err := (Dialer{TLS: conf}).Dial(context.Background(), addr, KindRPC); err == nil {
				t.Fatal("client without a certificate was accepted")
			}
		}, "TLS handshake failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, logs := startMux(t, tt.server, Options{HandshakeTimeout: 300 * time.Millisecond})
			serveTagged(t, m.Listener(KindRPC), "rpc:")
			tt.attack(t, m.Addr().String())
			if tt.wantLog != "" {
				testutil.WaitFor(t, 5*time.Second, "log line "+tt.wantLog, func() bool { return logs.contains(tt.wantLog) })
			}
			testutil.WaitFor(t, 5*time.Second, "handshake phase to end", func() bool { return m.pendingCount() == 0 })
			good := Dialer{}
			if tt.server != nil {
				good.TLS = clientTLS
			}
			c, err := good.Dial(context.Background(), m.Addr().String(), KindRPC)
			if err != nil {
				t.Fatalf("good client refused after the bad one: %v", err)
			}
			roundTrip(t, c, "still", "rpc:still")
			c.Close()
		})
	}
}

// rawWrite opens a plain TCP connection, writes b and returns the
// connection, closed at the end of the test.
func rawWrite(t *testing.T, addr string, b []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if len(b) > 0 {
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestConnNotAcceptedInTimeFailsTheDial(t *testing.T) {
	m, logs := startMux(t, nil, Options{HandshakeTimeout: 200 * time.Millisecond})
	// Nobody calls Accept on KindRPC.
	_, err := (Dialer{}).Dial(context.Background(), m.Addr().String(), KindRPC)
	if err == nil {
		t.Fatal("Dial succeeded although no listener accepted the connection")
	}
	testutil.WaitFor(t, 5*time.Second, "log of the unaccepted conn", func() bool {
		return logs.contains("not accepted within the handshake timeout")
	})
}

func TestClosedSubListenerRefusesItsKindOnly(t *testing.T) {
	m, _ := startMux(t, nil, Options{})
	serveTagged(t, m.Listener(KindRPC), "rpc:")
	raft := m.Listener(KindRaft)
	if err := raft.Close(); err != nil {
		t.Fatal(err)
	}
	if err := raft.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := raft.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close = %v, want net.ErrClosed", err)
	}
	if m.Listener(KindRaft) != raft {
		t.Fatal("Listener after Close returned a new listener")
	}
	if _, err := (Dialer{}).Dial(context.Background(), m.Addr().String(), KindRaft); err == nil {
		t.Fatal("Dial of a closed kind succeeded")
	}
	c, err := (Dialer{}).Dial(context.Background(), m.Addr().String(), KindRPC)
	if err != nil {
		t.Fatalf("other kind refused: %v", err)
	}
	roundTrip(t, c, "x", "rpc:x")
	c.Close()
}

func TestCloseStopsEverything(t *testing.T) {
	m, _ := startMux(t, nil, Options{HandshakeTimeout: time.Minute})
	sub := m.Listener(KindRPC)
	acceptErr := make(chan error, 1)
	go func() {
		_, err := sub.Accept()
		acceptErr <- err
	}()
	pending := rawWrite(t, m.Addr().String(), nil)
	testutil.WaitFor(t, 5*time.Second, "a pending connection", func() bool { return m.pendingCount() == 1 })

	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := <-acceptErr; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("blocked Accept returned %v, want net.ErrClosed", err)
	}
	expectClosed(t, pending)
	if _, err := m.Listener('N').Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept on a listener created after Close = %v, want net.ErrClosed", err)
	}
	if _, err := (Dialer{Timeout: time.Second}).Dial(context.Background(), m.Addr().String(), KindRPC); err == nil {
		t.Fatal("Dial after Close succeeded")
	}
}

func TestListenerClosedElsewhereStopsAccept(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := New(ln, nil, nil, Options{})
	defer m.Close()
	ln.Close()
	if _, err := m.Listener(KindRPC).Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after the underlying listener closed = %v, want net.ErrClosed", err)
	}
}

func TestMaxConnsPerKindEvictsTheLongestIdle(t *testing.T) {
	m, _ := startMux(t, nil, Options{MaxConnsPerKind: 2})
	ln := m.Listener(KindRPC)
	var d Dialer
	accept := func() (client, server net.Conn) {
		t.Helper()
		accepted := make(chan net.Conn, 1)
		go func() {
			s, err := ln.Accept()
			if err != nil {
				t.Error(err)
			}
			accepted <- s
		}()
		c, err := d.Dial(context.Background(), m.Addr().String(), KindRPC)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		s := <-accepted
		if s == nil {
			t.FailNow()
		}
		t.Cleanup(func() { s.Close() })
		return c, s
	}
	idleClient, _ := accept()
	talkerClient, talkerServer := accept()
	// The second connection talks, so it is not the longest idle when a
	// third one arrives.
	if _, err := talkerClient.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(talkerServer, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	accept()
	idleClient.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idleClient.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the longest-idle connection was not closed at the bound (read: %v)", err)
	}
	talkerClient.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := talkerClient.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the talking connection was closed instead (read: %v)", err)
	}
}
