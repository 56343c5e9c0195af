package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCAThenNodeCertificates(t *testing.T) {
	dir := t.TempDir()
	if err := run([]string{"ca", "-dir", dir}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"ca", "-dir", dir}, io.Discard); err == nil {
		t.Fatal("a second ca overwrote the first")
	}
	for _, id := range []string{"node1", "node2"} {
		if err := run([]string{"node", "-dir", dir, "-id", id, "-cluster", "prod", "-hosts", "127.0.0.1,localhost"}, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "node2.pem"), filepath.Join(dir, "node2-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "node2", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("node2's certificate: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, "node2-key.pem")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", st.Mode(), err)
	}
	for _, bad := range [][]string{{}, {"node", "-dir", dir}, {"node", "-dir", dir, "-id", "../x"}, {"what"}} {
		if err := run(bad, io.Discard); err == nil {
			t.Fatalf("run %v succeeded", bad)
		}
	}
}
