package certgen

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

func TestIssuedNodeCertificateVerifiesAndNamesTheNode(t *testing.T) {
	ca, err := NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCA(ca.CertPEM(), keyPEM)
	if err != nil {
		t.Fatalf("LoadCA of what the CA wrote: %v", err)
	}
	certPEM, nodeKey, err := loaded.Issue(Node{ID: "gw-1", ClusterID: "prod", Hosts: []string{"10.0.0.1", "gw-1.internal"}, Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, nodeKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM())
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}, DNSName: "gw-1"}); err != nil {
			t.Fatalf("verify for %v: %v", usage, err)
		}
	}
	if err := leaf.VerifyHostname("10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "raftkit://prod/gw-1" {
		t.Fatalf("URIs %v", leaf.URIs)
	}
}

func TestIssueRefusesBadInput(t *testing.T) {
	ca, err := NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []Node{
		{ID: "", Validity: time.Hour},
		{ID: "n1", Validity: 0},
		{ID: "node one", Validity: time.Hour}, // not a DNS name, no cluster
		{ID: "n1", Hosts: []string{"bad host"}, Validity: time.Hour},
	} {
		if _, _, err := ca.Issue(n); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Issue(%+v): %v, want ErrInvalid", n, err)
		}
	}
	if _, err := LoadCA([]byte("junk"), nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("LoadCA of junk: %v", err)
	}
}
