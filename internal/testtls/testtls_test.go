package testtls

import (
	"crypto/x509"
	"net"
	"testing"
	"time"
)

func TestIssuedCertificateVerifiesAgainstItsCAOnly(t *testing.T) {
	ca, other := NewCA(t), NewCA(t)
	cert := ca.Issue(t, "node-1", net.IPv4(127, 0, 0, 1))
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		opts := x509.VerifyOptions{Roots: ca.Pool, KeyUsages: []x509.ExtKeyUsage{usage}, CurrentTime: time.Now()}
		if _, err := cert.Leaf.Verify(opts); err != nil {
			t.Fatalf("usage %v: %v", usage, err)
		}
		opts.Roots = other.Pool
		if _, err := cert.Leaf.Verify(opts); err == nil {
			t.Fatalf("usage %v: verified against a foreign CA", usage)
		}
	}
	if err := cert.Leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Fatalf("IP SAN: %v", err)
	}
	if err := cert.Leaf.VerifyHostname("node-1"); err != nil {
		t.Fatalf("DNS SAN: %v", err)
	}
	conf := ca.ServerClientConfig(cert)
	if conf.ClientCAs != ca.Pool || conf.RootCAs != ca.Pool || len(conf.Certificates) != 1 {
		t.Fatalf("config does not use the CA and certificate: %+v", conf)
	}
}
