package admin_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/raftkit/raftkit/examples/gateway/admin"
	"github.com/raftkit/raftkit/examples/gateway/route"
)

// Every endpoint but the probes needs a token; a missing or wrong one is
// 401 with WWW-Authenticate, a read-only token on a write 403, each with a
// JSON error; and none of the refused writes reaches Raft.
func TestAuthRequiredAndNothingWritten(t *testing.T) {
	a := newAPI(t, http.NotFoundHandler())
	if r := a.call("PUT", "/v1/groups/g", `{"upstreams":[{"url":"http://127.0.0.1:9001"}]}`); r.code != 200 {
		t.Fatalf("PUT group with the token: %d %s", r.code, r.body)
	}
	applied := a.node.AppliedIndex()
	requests := []struct{ method, path, body string }{
		{"GET", "/v1/routes", ""}, {"GET", "/v1/routes/x", ""}, {"GET", "/v1/groups", ""},
		{"PUT", "/v1/routes/x", routeBody}, {"POST", "/v1/routes", `{"id":"y","path_prefix":"/y","upstreams":[{"url":"http://127.0.0.1:9001"}]}`},
		{"DELETE", "/v1/routes/x", ""}, {"PUT", "/v1/groups/g", `{"upstreams":[{"url":"http://127.0.0.1:9002"}]}`},
		{"DELETE", "/v1/groups/g", ""}, {"DELETE", "/v1/members/n2", ""},
		{"GET", "/status", ""}, {"GET", "/metrics", ""}, {"GET", "/v1/proxy", ""}, {"GET", "/no/such/endpoint", ""},
	}
	for _, cred := range []struct{ name, header, wantErr string }{
		{"no credentials", "", ""},
		{"wrong token", "Bearer " + strings.Repeat("x", 28), `error="invalid_token"`},
		{"token prefix", "Bearer " + testToken[:len(testToken)-1], `error="invalid_token"`},
		{"basic auth", "Basic dXNlcjpwYXNz", ""},
		{"empty bearer", "Bearer ", ""},
	} {
		a.token = ""
		for _, rq := range requests {
			r := a.callWith(rq.method, rq.path, rq.body, cred.header)
			if r.code != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") ||
				!strings.Contains(r.header.Get("WWW-Authenticate"), cred.wantErr) || r.json(t)["error"] == nil {
				t.Errorf("%s: %s %s: %d %q %s", cred.name, rq.method, rq.path, r.code, r.header.Get("WWW-Authenticate"), r.body)
			}
			if r.header.Get("X-Raft-Index") != "" {
				t.Errorf("%s: %s %s: a refusal tells the raft index", cred.name, rq.method, rq.path)
			}
		}
	}
	// A read-only token reads but may not write.
	for _, rq := range requests {
		r := a.callWith(rq.method, rq.path, rq.body, "Bearer "+readToken)
		switch {
		case rq.method == "GET" && (r.code == http.StatusUnauthorized || r.code == http.StatusForbidden):
			t.Errorf("read token: %s %s: %d %s", rq.method, rq.path, r.code, r.body)
		case rq.method != "GET" && (r.code != http.StatusForbidden || r.json(t)["error"] == nil ||
			!strings.Contains(r.header.Get("WWW-Authenticate"), `error="insufficient_scope"`)):
			t.Errorf("read token: %s %s: %d %s, want 403", rq.method, rq.path, r.code, r.body)
		}
	}
	if got := a.node.AppliedIndex(); got != applied {
		t.Fatalf("refused requests moved the applied index from %d to %d", applied, got)
	}
	if routes, _ := a.store.Routes(); len(routes) != 0 {
		t.Fatalf("routes written: %v", routes)
	}
	if g, ok, _ := a.store.Group("g"); !ok || g.Group.Upstreams[0].URL != "http://127.0.0.1:9001" {
		t.Fatalf("group changed: %+v %v", g, ok)
	}
	// The probes stay open.
	for _, p := range []string{"/readyz", "/livez"} {
		if r := a.callWith("GET", p, "", ""); r.code != 200 {
			t.Errorf("%s without credentials: %d %s", p, r.code, r.body)
		}
	}
}

// Every admin response carries headers that keep a browser from sniffing,
// caching, framing or running it.
func TestSecurityHeaders(t *testing.T) {
	a := newAPI(t, http.NotFoundHandler())
	for _, r := range []reply{
		a.call("GET", "/v1/routes", ""), a.call("GET", "/status", ""), a.call("PUT", "/v1/routes/x", "{"),
		a.callWith("GET", "/v1/routes", "", ""), a.callWith("GET", "/readyz", "", ""), a.call("GET", "/nope", ""),
	} {
		for k, v := range map[string]string{
			"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "X-Frame-Options": "DENY",
			"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		} {
			if got := r.header.Get(k); got != v {
				t.Errorf("%d %s: %s = %q, want %q", r.code, r.body, k, got, v)
			}
		}
	}
}

// syncBuffer is a log sink the server's goroutines may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A refused request is logged, without the token it presented; nor does
// the good token appear when a request with it fails.
func TestTokensAreNeverLogged(t *testing.T) {
	var logs syncBuffer
	a := newAPIWith(t, func(c *admin.Config) {
		c.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: &logs})
	})
	bad := "not-the-token-but-close-0123456789"
	a.token = ""
	if r := a.callWith("PUT", "/v1/routes/x", routeBody, "Bearer "+bad); r.code != http.StatusUnauthorized {
		t.Fatalf("%d %s", r.code, r.body)
	}
	if r := a.callWith("DELETE", "/v1/members/n2", "", "Bearer "+readToken); r.code != http.StatusForbidden {
		t.Fatalf("%d %s", r.code, r.body)
	}
	// Nor does an accepted write log the token that made it.
	if r := a.callWith("PUT", "/v1/routes/x", routeBody, "Bearer "+testToken); r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	out := logs.String()
	if !strings.Contains(out, "refused") {
		t.Fatalf("the refusal was not logged at all:\n%s", out)
	}
	for _, tok := range []string{bad, readToken, testToken} {
		if strings.Contains(out, tok) || strings.Contains(out, tok[:MinLeak]) {
			t.Fatalf("the log holds a token:\n%s", out)
		}
	}
}

// MinLeak is how much of a token the log must not show.
const MinLeak = 12

func TestNewRefusesAnAPIWithoutAuthentication(t *testing.T) {
	a := newAPI(t, nil)
	_, err := admin.New(admin.Config{Node: a.node, Store: a.store})
	if !errors.Is(err, admin.ErrNoAuth) {
		t.Fatalf("New without Auth: %v", err)
	}
	// Insecure is an explicit choice: everything is served.
	b := newAPIWith(t, func(c *admin.Config) { c.Auth = admin.Auth{Insecure: true} })
	b.token = ""
	if r := b.call("PUT", "/v1/routes/x", routeBody); r.code != 200 {
		t.Fatalf("insecure PUT: %d %s", r.code, r.body)
	}
}

// Routes and groups may not point at forbidden addresses: 400 naming the
// field, and nothing reaches Raft.
func TestForbiddenUpstreamsRefused(t *testing.T) {
	a := newAPIWith(t, func(c *admin.Config) { c.Upstreams = nil }) // the default: strictest
	applied := a.node.AppliedIndex()
	for _, rq := range []struct{ method, path, body, field string }{
		{"PUT", "/v1/routes/r", `{"path_prefix":"/r","upstreams":[{"url":"http://169.254.169.254/latest/meta-data"}]}`, "upstreams[0].url"},
		{"PUT", "/v1/routes/r", `{"path_prefix":"/r","upstreams":[{"url":"http://93.184.216.34"},{"url":"http://127.0.0.1:9001"}]}`, "upstreams[1].url"},
		{"POST", "/v1/routes", `{"id":"r","path_prefix":"/r","upstreams":[{"url":"http://[::1]:80"}]}`, "upstreams[0].url"},
		{"PUT", "/v1/routes/r", `{"path_prefix":"/r","upstreams":[{"url":"http://0.0.0.0:8080"}]}`, "upstreams[0].url"},
		{"PUT", "/v1/routes/r", `{"path_prefix":"/r","upstreams":[{"url":"http://10.0.0.1"}]}`, "upstreams[0].url"},
		{"PUT", "/v1/routes/r", `{"path_prefix":"/r","upstreams":[{"url":"http://localhost:9001"}]}`, "upstreams[0].url"},
		{"PUT", "/v1/groups/g", `{"upstreams":[{"url":"http://[::ffff:169.254.169.254]"}]}`, "upstreams[0].url"},
	} {
		r := a.call(rq.method, rq.path, rq.body)
		if m := r.json(t); r.code != http.StatusBadRequest || m["field"] != rq.field || !strings.Contains(m["error"].(string), "not allowed") {
			t.Errorf("%s %s %s: %d %s", rq.method, rq.path, rq.body, r.code, r.body)
		}
	}
	if got := a.node.AppliedIndex(); got != applied {
		t.Fatalf("refused writes moved the applied index from %d to %d", applied, got)
	}
	// The node's own listener, with loopback allowed.
	own := &route.UpstreamPolicy{AllowLoopback: true}
	b := newAPIWith(t, func(c *admin.Config) { c.Upstreams = own })
	if err := own.AddOwn(t.Context(), strings.TrimPrefix(b.url, "http://")); err != nil {
		t.Fatal(err)
	}
	if r := b.call("PUT", "/v1/routes/self", `{"path_prefix":"/s","upstreams":[{"url":"`+b.url+`"}]}`); r.code != http.StatusBadRequest || !strings.Contains(r.body, "own listening address") {
		t.Fatalf("own address: %d %s", r.code, r.body)
	}
}

// With ClientCerts, a verified client certificate authenticates; with
// tokens as well, both are needed.
func TestClientCertificates(t *testing.T) {
	ca, caKey := newCA(t)
	client := issue(t, ca, caKey, "admin", x509.ExtKeyUsageClientAuth)
	server := issue(t, ca, caKey, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, c := range []struct {
		name      string
		tokens    bool
		sendToken bool
		want      int
		wantPlain int // the same API served without TLS
	}{
		{"certificate alone", false, false, 200, http.StatusUnauthorized},
		{"certificate without the token", true, false, http.StatusUnauthorized, http.StatusUnauthorized},
		{"certificate and token", true, true, 200, http.StatusUnauthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := newAPIWith(t, func(cfg *admin.Config) {
				cfg.Auth = admin.Auth{ClientCerts: true}
				if c.tokens {
					cfg.Auth.Tokens = testTokens(t)
				}
			})
			if !c.sendToken {
				a.token = ""
			}
			if r := a.call("GET", "/v1/routes", ""); r.code != c.wantPlain {
				t.Fatalf("over plain HTTP: %d %s", r.code, r.body)
			}
			hs := httptest.NewUnstartedServer(a.srv)
			hs.TLS = &tls.Config{Certificates: []tls.Certificate{server}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
			hs.StartTLS()
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{client}}}
			t.Cleanup(func() { hs.Close(); tr.CloseIdleConnections() })
			a.url, a.client = hs.URL, &http.Client{Transport: tr}
			if r := a.call("PUT", "/v1/routes/x", routeBody); r.code != c.want {
				t.Fatalf("PUT over mTLS: %d %s", r.code, r.body)
			}
		})
	}
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test admin CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca, key
}

func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestParseTokens(t *testing.T) {
	tok, err := admin.ParseTokens("f", strings.NewReader("# admins\n\n  "+testToken+"  \n"+readToken+" read\n# end\n"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Len() != 2 || tok.Match(testToken) != admin.RoleWrite || tok.Match(readToken) != admin.RoleRead ||
		tok.Match("") != 0 || tok.Match(testToken+"x") != 0 || tok.Match(testToken[1:]) != 0 || tok.Match("# admins") != 0 {
		t.Fatal("Match gives the wrong roles")
	}
	for name, in := range map[string]string{
		"empty":       "# nothing\n\n",
		"short":       "0123456789abcde\n",
		"bad role":    testToken + " admin\n",
		"three words": testToken + " read extra\n",
		"twice":       testToken + "\n" + testToken + " read\n",
		"control":     testToken + "\x01\n",
		"non-ascii":   testToken + "é\n",
		"long line":   strings.Repeat("a", 5000) + "\n",
	} {
		_, err := admin.ParseTokens("f", strings.NewReader(in))
		if !errors.Is(err, admin.ErrTokenFile) {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if strings.Contains(err.Error(), testToken[:MinLeak]) || strings.Contains(err.Error(), "aaaaaaaaaaaa") {
			t.Errorf("%s: the error shows the token: %v", name, err)
		}
	}
}

func TestLoadTokensRefusesFilesOthersCanRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tokens")
	if err := os.WriteFile(p, []byte(testToken+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if tok, err := admin.LoadTokens(p); err != nil || tok.Match(testToken) != admin.RoleWrite {
		t.Fatalf("mode 0640: %v", err)
	}
	for _, mode := range []os.FileMode{0o644, 0o602, 0o601} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.LoadTokens(p); !errors.Is(err, admin.ErrTokenFile) || !strings.Contains(err.Error(), "other users") {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
	if _, err := admin.LoadTokens(dir); !errors.Is(err, admin.ErrTokenFile) {
		t.Errorf("a directory: %v", err)
	}
	if _, err := admin.LoadTokens(filepath.Join(dir, "missing")); !errors.Is(err, admin.ErrTokenFile) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}
