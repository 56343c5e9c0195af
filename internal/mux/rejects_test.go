package mux

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/testtls"
	"github.com/raftkit/raftkit/internal/testutil"
)

// TestRejectedCountsEachReason: each way a TLS Mux refuses a connection
// is counted under its own reason, and nothing else is.
func TestRejectedCountsEachReason(t *testing.T) {
	ca := testtls.NewCA(t)
	m, _ := startMux(t, appTLS(t, ca, "server"), Options{
		HandshakeTimeout: 10 * time.Second,
		Admit: func(kind byte, _ net.Addr, _ *tls.ConnectionState) (any, error) {
			if kind == KindRaft {
				return nil, errors.New("not a member")
			}
			return nil, nil
		},
	})
	serveTagged(t, m.Listener(KindRPC), "rpc:")
	addr := m.Addr().String()
	ctx := context.Background()

	// Plain TCP to a TLS Mux.
	if _, err := (Dialer{}).Dial(ctx, addr, KindRPC); !errors.Is(err, ErrRefused) {
		t.Fatalf("plain dial: %v", err)
	}
	// Refused by Admit.
	if _, err := (Dialer{TLS: appTLS(t, ca, "client")}).Dial(ctx, addr, KindRaft); !errors.Is(err, ErrRefused) {
		t.Fatalf("dial refused by Admit: %v", err)
	}
	// A kind nobody serves.
	if c, err := (Dialer{TLS: appTLS(t, ca, "client")}).Dial(ctx, addr, 'Z'); err == nil {
		c.Read(make([]byte, 1)) // until the Mux closes it
		c.Close()
	}
	// A certificate from another CA.
	other := testtls.NewCA(t)
	if c, err := (Dialer{TLS: appTLS(t, other, "client")}).Dial(ctx, addr, KindRPC); err == nil {
		c.Read(make([]byte, 1))
		c.Close()
	}
	// Accepted: counted nowhere.
	c, err := (Dialer{TLS: appTLS(t, ca, "client")}).Dial(ctx, addr, KindRPC)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, "x", "rpc:x")
	c.Close()

	want := [NumRejectReasons]uint64{RejectPlaintext: 1, RejectNotAdmitted: 1, RejectUnknownKind: 1, RejectHandshake: 1}
	testutil.WaitFor(t, 10*time.Second, "every refusal counted", func() bool { return m.Rejected() == want })
	testutil.WaitFor(t, 5*time.Second, "handshake phase to end", func() bool { return m.pendingCount() == 0 })
	if got := m.Rejected(); got != want {
		t.Fatalf("Rejected = %v, want %v", got, want)
	}
	for r := range NumRejectReasons {
		if r.String() == "unknown" || r.String() == "" {
			t.Errorf("reason %d has no name", r)
		}
	}
}
