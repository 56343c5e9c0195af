package mux

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/testtls"
	"github.com/raftkit/raftkit/internal/testutil"
)

// appTLS is a TLS config the way an application writes it: its own
// certificate and the CA pool, ClientAuth and ClientCAs left unset.
func appTLS(t *testing.T, ca *testtls.CA, name string) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, name, net.IPv4(127, 0, 0, 1))}, RootCAs: ca.Pool}
}

func TestTLSRequiresAClientCertificateEvenWhenTheConfigDoesNot(t *testing.T) {
	ca := testtls.NewCA(t)
	other := testtls.NewCA(t)
	foreign := appTLS(t, other, "intruder")
	foreign.RootCAs = ca.Pool // trusts the server; the server must not trust it
	tests := []struct {
		name   string
		client *tls.Config
		ok     bool
	}{
		{"member certificate", appTLS(t, ca, "member"), true},
		{"no certificate", &tls.Config{RootCAs: ca.Pool}, false},
		{"certificate from another CA", foreign, false},
	}
	m, logs := startMux(t, appTLS(t, ca, "server"), Options{HandshakeTimeout: 10 * time.Second})
	serveTagged(t, m.Listener(KindRPC), "rpc:")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			c, err := (Dialer{TLS: tt.client}).Dial(context.Background(), m.Addr().String(), KindRPC)
			if tt.ok {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				roundTrip(t, c, "hi", "rpc:hi")
				c.Close()
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("a peer without a certificate the CA signed was accepted")
			}
			if errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
				t.Fatalf("refusal came as a timeout, not a TLS alert: %v", err)
			}
		})
	}
	testutil.WaitFor(t, 5*time.Second, "log of the failed handshakes", func() bool { return logs.contains("TLS handshake failed") })
}

func TestServerConfigNeedsCAs(t *testing.T) {
	ca := testtls.NewCA(t)
	if _, err := ServerConfig(&tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "n")}}); !errors.Is(err, ErrNoClientCAs) {
		t.Fatalf("ServerConfig without CAs: %v, want ErrNoClientCAs", err)
	}
	app := appTLS(t, ca, "n")
	conf, err := ServerConfig(app)
	if err != nil {
		t.Fatal(err)
	}
	if conf.ClientAuth != tls.RequireAndVerifyClientCert || conf.ClientCAs != ca.Pool {
		t.Fatalf("ServerConfig: ClientAuth %v, ClientCAs from RootCAs: %v", conf.ClientAuth, conf.ClientCAs == ca.Pool)
	}
	if app.ClientAuth != tls.NoClientCert || app.ClientCAs != nil {
		t.Fatal("ServerConfig changed the application's config")
	}
	weak := appTLS(t, ca, "n")
	weak.ClientAuth = tls.VerifyClientCertIfGiven
	if conf, _ := ServerConfig(weak); conf.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatalf("ServerConfig kept ClientAuth %v", conf.ClientAuth)
	}
}

func TestPlainClientToATLSMuxIsToldSo(t *testing.T) {
	ca := testtls.NewCA(t)
	m, logs := startMux(t, appTLS(t, ca, "server"), Options{HandshakeTimeout: 10 * time.Second})
	serveTagged(t, m.Listener(KindRPC), "rpc:")
	for range 5 {
		start := time.Now()
		_, err := (Dialer{}).Dial(context.Background(), m.Addr().String(), KindRPC)
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "requires TLS") {
			t.Fatalf("plain Dial to a TLS mux: %v, want ErrRefused saying TLS is required", err)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("refusal took as long as a timeout")
		}
	}
	testutil.WaitFor(t, 5*time.Second, "handshake phase to end", func() bool { return m.pendingCount() == 0 })
	if n := logs.countLines("[WARN]", "requires TLS"); n != 1 {
		t.Fatalf("plaintext refusal logged %d times at Warn, want once (rate-limited)", n)
	}
}

func TestAdmitRefusesWithItsReasonAndCarriesTheIdentity(t *testing.T) {
	ca := testtls.NewCA(t)
	admit := func(kind byte, _ net.Addr, st *tls.ConnectionState) (any, error) {
		if st == nil || len(st.VerifiedChains) == 0 {
			return nil, errors.New("no verified chain")
		}
		name := st.VerifiedChains[0][0].Subject.CommonName
		if kind == KindRaft && name != "member" {
			return nil, errors.New(name + " is not a member")
		}
		return name, nil
	}
	m, _ := startMux(t, appTLS(t, ca, "server"), Options{Admit: admit})
	rpcLn := m.Listener(KindRPC)
	serveTagged(t, m.Listener(KindRaft), "raft:")
	_, err := (Dialer{TLS: appTLS(t, ca, "stranger")}).Dial(context.Background(), m.Addr().String(), KindRaft)
	var re *RefusedError
	if !errors.Is(err, ErrRefused) || !errors.As(err, &re) || re.Reason != "stranger is not a member" {
		t.Fatalf("Dial refused by Admit: %v, want a *RefusedError with Admit's reason", err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := rpcLn.Accept()
		accepted <- c
	}()
	c, err := (Dialer{TLS: appTLS(t, ca, "stranger")}).Dial(context.Background(), m.Addr().String(), KindRPC)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := <-accepted
	if s == nil {
		t.Fatal("Accept failed")
	}
	defer s.Close()
	if got := Identity(s); got != "stranger" {
		t.Fatalf("Identity = %v, want what Admit returned", got)
	}
}

func TestPendingFloodEvictsTheOldestSilentConnection(t *testing.T) {
	ca := testtls.NewCA(t)
	tests := []struct {
		name string
		opts Options
	}{
		{"MaxPending", Options{MaxPending: 3, HandshakeTimeout: time.Minute}},
		{"MaxPendingPerHost", Options{MaxPendingPerHost: 3, HandshakeTimeout: time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, logs := startMux(t, appTLS(t, ca, "server"), tt.opts)
			serveTagged(t, m.Listener(KindRPC), "rpc:")
			addr := m.Addr().String()
			// The oldest has sent the start of a TLS record, then stalled:
			// it is slow, not silent, and silent ones go first.
			spoke := rawWrite(t, addr, []byte{0x16, 0x03, 0x01})
			testutil.WaitFor(t, 5*time.Second, "one pending connection", func() bool { return m.pendingCount() == 1 })
			silent := rawWrite(t, addr, nil)
			testutil.WaitFor(t, 5*time.Second, "two pending connections", func() bool { return m.pendingCount() == 2 })
			rawWrite(t, addr, nil)
			testutil.WaitFor(t, 5*time.Second, "three pending connections", func() bool { return m.pendingCount() == 3 })

			// A real client at the bound gets in: the oldest silent one
			// makes room, where the newest used to be refused.
			c, err := (Dialer{TLS: appTLS(t, ca, "member")}).Dial(context.Background(), addr, KindRPC)
			if err != nil {
				t.Fatalf("Dial at the pending bound: %v", err)
			}
			roundTrip(t, c, "in", "rpc:in")
			c.Close()
			expectClosed(t, silent)
			spoke.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, err := spoke.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the connection that had spoken was closed before the silent ones (read: %v)", err)
			}
			testutil.WaitFor(t, 5*time.Second, "eviction log", func() bool { return logs.contains("closing the oldest") })
		})
	}
}

func TestCloseIfClosesTheChosenConnectionsOfOneKind(t *testing.T) {
	admit := func(kind byte, _ net.Addr, _ *tls.ConnectionState) (any, error) { return string(kind), nil }
	m, _ := startMux(t, nil, Options{Admit: admit})
	accept := func(kind byte) (client net.Conn) {
		t.Helper()
		got := make(chan net.Conn, 1)
		go func() {
			c, _ := m.Listener(kind).Accept()
			got <- c
		}()
		c, err := (Dialer{}).Dial(context.Background(), m.Addr().String(), kind)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		s := <-got
		if s == nil {
			t.FailNow()
		}
		t.Cleanup(func() { s.Close() })
		return c
	}
	raftConn, rpcConn := accept(KindRaft), accept(KindRPC)
	if n := m.CloseIf(KindRaft, func(id any) bool { return id == string(KindRaft) }); n != 1 {
		t.Fatalf("CloseIf closed %d connections, want 1", n)
	}
	expectClosed(t, raftConn)
	rpcConn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := rpcConn.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection of another kind was closed (read: %v)", err)
	}
}

func TestHasUnreadDataPeeksWithoutReading(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if hasUnreadData(server) {
		t.Fatal("data reported before anything was sent")
	}
	client.Write([]byte{KindRPC})
	testutil.WaitFor(t, 5*time.Second, "the byte to arrive", func() bool { return hasUnreadData(server) })
	var b [1]byte
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(server, b[:]); err != nil || b[0] != KindRPC {
		t.Fatalf("the peeked byte was consumed: read %q, %v", b[:], err)
	}
}
