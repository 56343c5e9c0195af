package proxy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/examples/gateway/proxy"
	"github.com/raftkit/raftkit/examples/gateway/route"
	"github.com/raftkit/raftkit/examples/gateway/store"
	"github.com/raftkit/raftkit/readiness"
)

// rig is a proxy over an in-memory store, served by an httptest server.
type rig struct {
	t      *testing.T
	store  *store.Mem
	index  uint64
	proxy  *proxy.Proxy
	front  *httptest.Server
	client *http.Client
}

func newRig(t *testing.T, o store.Options) *rig {
	return newRigWith(t, o, proxy.Options{})
}

func newRigWith(t *testing.T, o store.Options, po proxy.Options) *rig {
	r := &rig{t: t, store: store.NewMem(o)}
	r.proxy = proxy.New(r.store, po)
	r.front = httptest.NewServer(r.proxy)
	tr := &http.Transport{}
	r.client = &http.Client{Transport: tr}
	t.Cleanup(func() {
		r.front.Close()
		tr.CloseIdleConnections()
		r.proxy.Close()
	})
	return r
}

// put writes a route straight into the store, as raft would apply it.
func (r *rig) apply(c route.Command) {
	r.t.Helper()
	r.index++
	if resp := r.store.Apply(&raft.Log{Index: r.index, Type: raft.LogCommand, Data: c.Encode()}); resp != nil {
		r.t.Fatalf("%s %s refused: %s", c.Op, c.ID, resp)
	}
}

func (r *rig) put(id string, rt route.Route) {
	r.apply(route.Command{Op: route.OpPutRoute, ID: id, Route: &rt})
}

// sync delivers the change the node would after these writes.
func (r *rig) sync(initial bool) {
	from := uint64(0)
	if !initial {
		from = r.proxy.Stats().TableIndex
	}
	r.proxy.Sync(readiness.Change{From: from, To: r.index, Initial: initial})
}

// get sends a request through the proxy and returns status and body.
func (r *rig) get(host, path string) (int, string) {
	r.t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.front.URL+path, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	return r.do(req)
}

func (r *rig) do(req *http.Request) (int, string) {
	r.t.Helper()
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// upstream is a test backend that answers "name path route-header".
type upstream struct {
	*httptest.Server
	name string
	mu   sync.Mutex
	hits int
	seen []*http.Request
}

func newUpstream(t *testing.T, name string) *upstream {
	u := &upstream{name: name}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u.mu.Lock()
		u.hits++
		u.seen = append(u.seen, req.Clone(context.Background()))
		u.mu.Unlock()
		fmt.Fprintf(w, "%s %s %s", name, req.URL.RequestURI(), req.Header.Get("X-Route"))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits
}

func (u *upstream) last() *http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.seen[len(u.seen)-1]
}

func ups(us ...*upstream) []route.Upstream {
	var out []route.Upstream
	for _, u := range us {
		out = append(out, route.Upstream{URL: u.URL, Weight: 1})
	}
	return out
}
