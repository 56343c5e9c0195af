package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEveryRequestCarriesTheToken runs the workload's write and read and a
// control request against a fake admin API that refuses requests without
// the bearer token, as a gateway started with -admin-token-file does.
func TestEveryRequestCarriesTheToken(t *testing.T) {
	const token = "s3cret"
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Raft-Index", "7")
		w.Header().Set("X-Raft-Consistency", "strong")
		switch {
		case r.Method == "PUT":
			_, _ = w.Write([]byte(`{"index": 7}`))
		case strings.HasPrefix(r.URL.Path, "/v1/routes/"):
			_, _ = w.Write([]byte(`{"id": "k", "set_headers": {"X-Campaign-Value": "v"}, "modified_index": 7}`))
		default:
			_, _ = w.Write([]byte(`{}`))
		}
	}))
	defer srv.Close()
	nd := &node{adminAddr: srv.Listener.Addr().String()}
	w := &workload{h: NewHistory(), token: token, keys: 1, keyLife: time.Minute, start: time.Now(), used: map[string]bool{}}
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	ctx := context.Background()

	if op := w.write(ctx, hc, nd, "k", "v"); op.Result != OK || op.Index != 7 {
		t.Fatalf("write: %s", op)
	}
	if op := w.read(ctx, hc, nd, "k", KindStrong); op.Result != OK || op.Value != "v" || op.Modified != 7 {
		t.Fatalf("read: %s", op)
	}
	c := &cluster{http: newHTTPClient(), token: token}
	defer c.http.CloseIdleConnections()
	if resp, _, err := c.request(ctx, nd, "GET", "/readyz", nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("control request: %v %v", resp, err)
	}
	mu.Lock()
	n := len(seen)
	mu.Unlock()
	if n != 3 {
		t.Fatalf("server saw %d requests, want 3", n)
	}

	// Without the token the same write is refused, and refused is a
	// definite failure: the fake server is honest about checking.
	w.token = ""
	if op := w.write(ctx, hc, nd, "k", "v2"); op.Result != Failed || op.Status != http.StatusUnauthorized {
		t.Fatalf("write without the token: %s", op)
	}
}

// TestRefusedConnectionIsADefiniteFailure checks that a write to a port
// nobody listens on (a killed node) is classified as not applied, through
// the real HTTP client rather than a constructed error.
func TestRefusedConnectionIsADefiniteFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	w := &workload{h: NewHistory(), keys: 1, keyLife: time.Minute, start: time.Now(), used: map[string]bool{}}
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	if op := w.write(context.Background(), hc, &node{adminAddr: addr}, "k", "v"); op.Result != Failed {
		t.Fatalf("write to a closed port: %s", op)
	}
}

// TestResetAfterSendingIsIndeterminate checks that a write whose
// connection the server drops after reading the request (a node killed
// mid-request) is of unknown outcome, through the real HTTP client.
func TestResetAfterSendingIsIndeterminate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	w := &workload{h: NewHistory(), keys: 1, keyLife: time.Minute, start: time.Now(), used: map[string]bool{}}
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	if op := w.write(context.Background(), hc, &node{adminAddr: srv.Listener.Addr().String()}, "k", "v"); op.Result != Indeterminate {
		t.Fatalf("write dropped after sending: %s", op)
	}
}

// TestReadTokenTakesTheFirstWriteToken reads the gateway's token file
// format: comments and read tokens are skipped.
func TestReadTokenTakesTheFirstWriteToken(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens")
	if err := os.WriteFile(path, []byte("# admins\n\nreader-0123456789abcdef read\n  writer-0123456789abcdef  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := readToken(path)
	if err != nil || tok != "writer-0123456789abcdef" {
		t.Fatalf("readToken = %q, %v; want the write token", tok, err)
	}
	if err := os.WriteFile(path, []byte("# none\nreader-0123456789abcdef read\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, err := readToken(path); err == nil {
		t.Fatalf("readToken = %q with no write token in the file; want an error", tok)
	}
	gen, err := writeToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(gen); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated token file mode: %v, %v; want 0600", fi, err)
	}
	if tok, err := readToken(gen); err != nil || len(tok) != 48 {
		t.Fatalf("generated token %q, %v", tok, err)
	}
}
