package main

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A cluster with mutual TLS between nodes, each with its own certificate
// naming its ID, and on the admin API (whose clients need a certificate
// from a separate admin CA, and a token), using certificates from
// "gateway gencert"; a node with a certificate from another CA cannot
// join, nor can one with a member's certificate under another ID.
func TestTLSCluster(t *testing.T) {
	bin := gatewayBinary(t)
	dir := t.TempDir()
	certs, rogue, adminCerts := filepath.Join(dir, "certs"), filepath.Join(dir, "rogue"), filepath.Join(dir, "admin")
	for d, ids := range map[string]string{certs: "node1,node2,node3", rogue: "rogue", adminCerts: "admin"} {
		if out, err := exec.Command(bin, "gencert", "-dir", d, "-ids", ids).CombinedOutput(); err != nil {
			t.Fatalf("gencert: %v\n%s", err, out)
		}
	}
	caPEM, err := os.ReadFile(filepath.Join(certs, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tlsFlags := func(d, id string) []string {
		return []string{"-tls-cert", filepath.Join(d, id+".pem"), "-tls-key", filepath.Join(d, id+"-key.pem"), "-tls-ca", filepath.Join(certs, "ca.pem")}
	}
	adminCert, err := tls.LoadX509KeyPair(filepath.Join(adminCerts, "admin.pem"), filepath.Join(adminCerts, "admin-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	memberCert, err := tls.LoadX509KeyPair(filepath.Join(certs, "node1.pem"), filepath.Join(certs, "node1-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, 3, clusterOpts{
		extra:     []string{"-admin-tls", "-admin-client-ca", filepath.Join(adminCerts, "ca.pem")},
		perNodeID: func(id string) []string { return tlsFlags(certs, id) },
		tls:       &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{adminCert}},
	})
	// Without a certificate, or with a member's (another CA), the
	// handshake fails; with the admin certificate but no token, 401.
	for name, certs := range map[string][]tls.Certificate{"no certificate": nil, "a member certificate": {memberCert}} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + c.nodes[0].adminAddr + "/v1/routes")
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: the admin API answered %d", name, resp.StatusCode)
		}
		tr.CloseIdleConnections()
	}
	if r, err := c.doAuth(c.nodes[0], "GET", "/v1/routes", "", ""); err != nil || r.code != http.StatusUnauthorized {
		t.Fatalf("certificate without a token: %d %v", r.code, err)
	}
	up := newTestUpstream(t, "tls-up")
	_, followers := c.leader()
	c.put(followers[0], "secure", routeJSON("/secure", false, "", up.URL))
	for _, n := range c.nodes {
		r := c.mustDo(n, "GET", "/v1/routes/secure?consistency=strong", "")
		if r.code != 200 {
			t.Fatalf("%s: %d %s", n.id, r.code, r.body)
		}
		c.waitProxy(n, "", "/secure", "tls-up /secure")
	}

	// A node whose certificate another CA signed is refused, and so is
	// one that presents a member's certificate under another ID.
	rogueCA := tlsFlags(rogue, "rogue")
	rogueCA[len(rogueCA)-1] = filepath.Join(rogue, "ca.pem")
	for _, flags := range [][]string{rogueCA, tlsFlags(certs, "node2")} {
		ports := freePorts(t, 3)
		cmd := exec.Command(bin, append([]string{"-id", "rogue", "-dir", filepath.Join(dir, "rogue-data", ports[0]),
			"-raft-addr", ports[0], "-admin-addr", ports[1], "-proxy-addr", ports[2],
			"-join", c.nodes[0].raftAddr, "-join-timeout", "3s", "-admin-insecure"}, flags...)...)
		done := make(chan struct{})
		var out []byte
		go func() { out, err = cmd.CombinedOutput(); close(done) }()
		select {
		case <-done:
		case <-time.After(waitLong):
			cmd.Process.Kill()
			<-done
			t.Fatal("the rogue node neither joined nor gave up")
		}
		if err == nil || !strings.Contains(string(out), "opening the node") {
			t.Fatalf("rogue node: err %v\n%s", err, out)
		}
		for _, n := range c.nodes {
			if st, err := c.status(n); err != nil || len(st.Members) != 3 {
				t.Fatalf("%s: members %+v, %v", n.id, st.Members, err)
			}
		}
	}
}
