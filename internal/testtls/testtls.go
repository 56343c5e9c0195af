package testtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"
)

// CA is a certificate authority that lives for one test.
type CA struct {
	// Cert is the CA's self-signed certificate.
	Cert *x509.Certificate
	// Pool holds only Cert; use it as RootCAs or ClientCAs.
	Pool *x509.CertPool
	key  *ecdsa.PrivateKey
}

// NewCA creates a CA with a fresh key. It fails the test on error.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testtls: CA key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "raftkit test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("testtls: CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testtls: parse CA certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{Cert: cert, Pool: pool, key: key}
}

// Issue returns a certificate signed by the CA, with name as its common
// name and DNS name and ips as its IP addresses, valid for server and
// client authentication. It fails the test on error.
func (ca *CA) Issue(t testing.TB, name string, ips ...net.IP) tls.Certificate {
	t.Helper()
	return ca.IssueSANs(t, name, []string{name}, nil, ips...)
}

// IssueSANs is Issue with the subject alternative names given: DNS names,
// URIs and IP addresses (dns may be empty, for a certificate that names
// no node by DNS). It fails the test on error.
func (ca *CA) IssueSANs(t testing.TB, name string, dns []string, uris []*url.URL, ips ...net.IP) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testtls: key for %s: %v", name, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     dns,
		URIs:         uris,
		IPAddresses:  ips,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("testtls: certificate for %s: %v", name, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testtls: parse certificate for %s: %v", name, err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// AppConfig returns a TLS config the way an application writes one: its
// certificate and the CA pool, ClientAuth and ClientCAs left unset.
func (ca *CA) AppConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: ca.Pool}
}

// ServerClientConfig returns a mutual-TLS config presenting cert, trusting
// only this CA on both sides (RootCAs and ClientCAs) and requiring a
// verified client certificate, usable for both tls.Server and tls.Client.
func (ca *CA) ServerClientConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      ca.Pool,
		ClientCAs:    ca.Pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatalf("testtls: serial number: %v", err)
	}
	return n
}
