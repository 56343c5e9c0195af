package mux

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// newTransport runs a raft NetworkTransport over m's KindRaft listener.
func newTransport(t *testing.T, m *Mux, clientTLS *tls.Config) *raft.NetworkTransport {
	t.Helper()
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  NewStreamLayer(m.Listener(KindRaft), nil, Dialer{TLS: clientTLS}),
		MaxPool: 2,
		Timeout: 5 * time.Second,
		Logger:  hclog.NewNullLogger(),
	})
	t.Cleanup(func() {
		trans.CloseStreams()
		trans.Close()
	})
	return trans
}

func TestRaftTransportOverMux(t *testing.T) {
	serverTLS, clientTLS, _ := mutualTLS(t)
	for _, tt := range []struct {
		name           string
		server, client *tls.Config
	}{{"plain", nil, nil}, {"mutual TLS", serverTLS, clientTLS}} {
		t.Run(tt.name, func(t *testing.T) {
			m1, _ := startMux(t, tt.server, Options{})
			m2, _ := startMux(t, tt.server, Options{})
			// RPC traffic shares m2's port with raft.
			serveTagged(t, m2.Listener(KindRPC), "rpc:")
			t1 := newTransport(t, m1, tt.client)
			t2 := newTransport(t, m2, tt.client)
			if t2.LocalAddr() != raft.ServerAddress(m2.Addr().String()) {
				t.Fatalf("LocalAddr = %s, want %s", t2.LocalAddr(), m2.Addr())
			}

			served := make(chan *raft.AppendEntriesRequest, 1)
			go func() {
				rpc := <-t2.Consumer()
				req := rpc.Command.(*raft.AppendEntriesRequest)
				served <- req
				rpc.Respond(&raft.AppendEntriesResponse{Term: req.Term, LastLog: 7, Success: true}, nil)
			}()
			req := &raft.AppendEntriesRequest{
				RPCHeader: raft.RPCHeader{ID: []byte("n1"), Addr: []byte(t1.LocalAddr())},
				Term:      3,
				Entries:   []*raft.Log{{Index: 7, Term: 3, Type: raft.LogCommand, Data: []byte("set k v")}},
			}
			var resp raft.AppendEntriesResponse
			if err := t1.AppendEntries("n2", t2.LocalAddr(), req, &resp); err != nil {
				t.Fatalf("AppendEntries: %v", err)
			}
			got := <-served
			if got.Term != 3 || len(got.Entries) != 1 || string(got.Entries[0].Data) != "set k v" {
				t.Fatalf("follower received %+v", got)
			}
			if !resp.Success || resp.LastLog != 7 || resp.Term != 3 {
				t.Fatalf("response %+v", resp)
			}

			c, err := (Dialer{TLS: tt.client}).Dial(t.Context(), m2.Addr().String(), KindRPC)
			if err != nil {
				t.Fatalf("RPC dial beside raft: %v", err)
			}
			roundTrip(t, c, "hi", "rpc:hi")
			c.Close()
		})
	}
}

func TestStreamLayerAdvertisesAddress(t *testing.T) {
	m, _ := startMux(t, nil, Options{})
	adv := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 7000}
	if got := NewStreamLayer(m.Listener(KindRaft), adv, Dialer{}).Addr(); got != adv {
		t.Fatalf("Addr = %v, want the advertised %v", got, adv)
	}
	if got := NewStreamLayer(m.Listener(KindRaft), nil, Dialer{}).Addr(); got.String() != m.Addr().String() {
		t.Fatalf("Addr = %v, want the bound %v", got, m.Addr())
	}
}
