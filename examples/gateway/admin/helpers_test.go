package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/examples/gateway/admin"
	"github.com/raftkit/raftkit/examples/gateway/proxy"
	"github.com/raftkit/raftkit/examples/gateway/route"
	"github.com/raftkit/raftkit/examples/gateway/store"
	"github.com/raftkit/raftkit/raftsync"
)

// api is the admin API of a real single-node cluster, over loopback HTTP.
type api struct {
	t      *testing.T
	node   *raftsync.Node
	store  *store.Mem
	srv    *admin.Server
	proxy  *proxy.Proxy
	url    string
	client *http.Client
	token  string // sent as a bearer token when set
}

// testToken is the write token newAPI's server accepts, and readToken a
// read-only one.
const (
	testToken = "write-token-0123456789abcdef"
	readToken = "read-token-0123456789abcdef"
)

func testTokens(t *testing.T) *admin.Tokens {
	t.Helper()
	tok, err := admin.ParseTokens("test", strings.NewReader(testToken+"\n"+readToken+" read\n"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// newAPI serves the admin API of a fresh single-node cluster, accepting
// testToken (which the api's calls send) and loopback upstreams.
func newAPI(t *testing.T, metrics http.Handler) *api {
	t.Helper()
	return newAPIWith(t, func(c *admin.Config) { c.Metrics = metrics })
}

// newAPIWith is newAPI with the configuration adjusted by edit.
func newAPIWith(t *testing.T, edit func(*admin.Config)) *api {
	t.Helper()
	a := &api{t: t, store: store.NewMem(store.Options{})}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	a.node, err = raftsync.Open(ctx, raftsync.Config{
		ID: "n1", Dir: t.TempDir(), Addr: "127.0.0.1:0", Bootstrap: true,
		Logger: hclog.NewNullLogger(),
		RaftConfig: func(rc *raft.Config) {
			rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = 200*time.Millisecond, 200*time.Millisecond, 100*time.Millisecond
		},
	}, a.store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.node.Close() })
	if err := a.node.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	// The data plane follows the node, as in the gateway.
	a.proxy = proxy.New(a.store, proxy.Options{})
	sub := a.node.SubscribeChanges()
	done := make(chan struct{})
	go func() { a.proxy.Run(sub.C()); close(done) }()
	t.Cleanup(func() { sub.Close(); <-done; a.proxy.Close() })
	cfg := admin.Config{
		Node: a.node, Store: a.store, DataPlane: a.proxy, Timeout: 5 * time.Second,
		Auth: admin.Auth{Tokens: testTokens(t)}, Upstreams: &route.UpstreamPolicy{AllowLoopback: true},
	}
	if edit != nil {
		edit(&cfg)
	}
	a.token = testToken
	a.srv, err = admin.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(a.srv)
	tr := &http.Transport{}
	a.url, a.client = hs.URL, &http.Client{Transport: tr}
	t.Cleanup(func() { hs.Close(); tr.CloseIdleConnections() })
	return a
}

type reply struct {
	code   int
	header http.Header
	body   string
}

func (r reply) index(t *testing.T) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(r.header.Get("X-Raft-Index"), 10, 64)
	if err != nil {
		t.Fatalf("X-Raft-Index %q: %v", r.header.Get("X-Raft-Index"), err)
	}
	return n
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

func (a *api) call(method, path, body string) reply {
	a.t.Helper()
	auth := ""
	if a.token != "" {
		auth = "Bearer " + a.token
	}
	return a.callWith(method, path, body, auth)
}

// callWith sends a request with the given Authorization header (none when
// empty).
func (a *api) callWith(method, path, body, authorization string) reply {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return reply{code: resp.StatusCode, header: resp.Header, body: string(b)}
}

const routeBody = `{"host":"","path_prefix":"/api","upstreams":[{"url":"http://127.0.0.1:9001","weight":1}],"timeout_ms":0,"retries":0,"strip_prefix":false,"set_headers":{}}`
