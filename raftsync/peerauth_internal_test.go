package raftsync

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/url"
	"testing"

	"github.com/raftkit/raftkit/internal/wire"
)

func TestPlaintextExposed(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:7000", false},
		{"[::1]:7000", false},
		{"10.0.0.1:7000", true},
		{"0.0.0.0:7000", true},
		{"[::]:7000", true},
	}
	for _, tt := range tests {
		a, err := net.ResolveTCPAddr("tcp", tt.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := plaintextExposed(a); got != tt.want {
			t.Errorf("plaintextExposed(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

func TestPeerIdentityNames(t *testing.T) {
	leaf := &x509.Certificate{DNSNames: []string{"node1", "host.example"}, URIs: []*url.URL{
		NodeURI("blue", "node7"), NodeURI("green", "node8"), {Scheme: "https", Host: "blue", Path: "/node9"},
	}}
	p := newPeerIdentity(&tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf}}})
	tests := []struct {
		id, cluster string
		want        bool
	}{
		{"node1", "blue", true},
		{"node1", "", true},
		{"node7", "blue", true},
		{"node7", "", false}, // a URI SAN counts only for a known cluster
		{"node8", "blue", false},
		{"node9", "blue", false}, // not the raftkit scheme
		{"node2", "blue", false},
	}
	for _, tt := range tests {
		if got := p.names(tt.id, tt.cluster); got != tt.want {
			t.Errorf("names(%q, %q) = %v, want %v", tt.id, tt.cluster, got, tt.want)
		}
	}
	if c := p.foreignCluster("blue"); c != "green" {
		t.Errorf("foreignCluster(blue) = %q, want green", c)
	}
	if ids := CertificateNodeIDs(leaf, "blue"); len(ids) != 3 || ids[2] != "node7" {
		t.Errorf("CertificateNodeIDs = %v", ids)
	}
}

// The identity check of a request allocates nothing: the identity was
// worked out when the connection was accepted.
func TestAuthorizeRPCDoesNotAllocate(t *testing.T) {
	leaf := &x509.Certificate{DNSNames: []string{"node1"}}
	p := newPeerIdentity(&tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf}}})
	n := &Node{}
	n.setClusterID("blue")
	set := map[string]struct{}{"node0": {}, "node1": {}}
	n.peers.members.Store(&set)
	n.life.started.Store(true)
	ctx := context.WithValue(context.Background(), peerKey{}, p)
	if denied := n.authorizeRPC(ctx, wire.TypeApplyRequest); denied != nil {
		t.Fatalf("member refused: %v", denied.Message)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		n.authorizeRPC(ctx, wire.TypeApplyRequest)
		n.authorizeRPC(ctx, wire.TypeConfirmRequest)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per identity check", allocs)
	}
}
