package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// testUpstream is an httptest server that answers "name path x-route".
type testUpstream struct {
	*httptest.Server
	hits atomic.Int64
}

func newTestUpstream(t *testing.T, name string) *testUpstream {
	u := &testUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		fmt.Fprintf(w, "%s %s %s", name, r.URL.RequestURI(), r.Header.Get("X-Route"))
	}))
	t.Cleanup(u.Close)
	return u
}

func routeJSON(prefix string, strip bool, host string, upstreams ...string) string {
	var ups []string
	for _, u := range upstreams {
		ups = append(ups, fmt.Sprintf(`{"url":%q,"weight":1}`, u))
	}
	return fmt.Sprintf(`{"host":%q,"path_prefix":%q,"upstreams":[%s],"timeout_ms":5000,"retries":1,"strip_prefix":%v,"set_headers":{"X-Route":%q}}`,
		host, prefix, strings.Join(ups, ","), strip, strings.TrimPrefix(prefix, "/"))
}

// Three processes: routes written through followers are readable on every
// node at every level and served by every node's proxy; bad admin input is
// refused everywhere and changes nothing.
func TestClusterOfThreeProcesses(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	a, b := newTestUpstream(t, "a"), newTestUpstream(t, "b")
	leader, followers := c.leader()
	t.Logf("leader %s, followers %s %s", leader.id, followers[0].id, followers[1].id)

	t.Run("status shows autopilot health", func(t *testing.T) {
		c.t = t
		defer func() { c.t = t }()
		// The leader's view: three healthy voters, one may fail.
		waitFor(t, waitLong, "leader reports 3 healthy voters", func() bool {
			st, err := c.status(leader)
			if err != nil || st.Cluster == nil || st.Membership != "voter" {
				return false
			}
			h := st.Cluster
			return h.Healthy && h.Voters == 3 && h.FailureTolerance == 1 && len(h.Servers) == 3
		})
		// Followers show the view the leader sent them, and when they
		// were promoted.
		for _, f := range followers {
			waitFor(t, waitLong, f.id+" reports the leader's view", func() bool {
				st, err := c.status(f)
				return err == nil && st.Cluster != nil && st.Cluster.Voters == 3 && st.Cluster.FailureTolerance == 1 &&
					strings.HasPrefix(st.Membership, "voter, promoted at ")
			})
		}
	})

	t.Run("routes through every node", func(t *testing.T) {
		c.t = t
		defer func() { c.t = t }()
		api := c.put(followers[0], "api", routeJSON("/api", true, "", a.URL, b.URL))
		web := c.put(followers[1], "web", routeJSON("/", false, "web.test", b.URL))
		create := c.mustDo(followers[0], "POST", "/v1/routes", `{"id":"docs","path_prefix":"/docs","upstreams":[{"url":"`+a.URL+`"}]}`)
		if create.code != 201 {
			t.Fatalf("POST: %d %s", create.code, create.body)
		}
		last := max(api, web, create.index())

		for _, n := range c.nodes {
			// Strong and lease reads are linearizable: no wait_index
			// needed to see a write that completed before they began.
			for _, q := range []string{"consistency=strong", "consistency=lease", "consistency=stale&wait_index=" + fmt.Sprint(last)} {
				r := c.mustDo(n, "GET", "/v1/routes/api?"+q, "")
				var got struct {
					ID            string `json:"id"`
					PathPrefix    string `json:"path_prefix"`
					ModifiedIndex uint64 `json:"modified_index"`
					Upstreams     []struct{ URL string }
				}
				r.decode(t, &got)
				if r.code != 200 || got.ID != "api" || got.PathPrefix != "/api" || got.ModifiedIndex != api || len(got.Upstreams) != 2 || r.index() < api {
					t.Fatalf("%s %s: %d %+v index %d", n.id, q, r.code, got, r.index())
				}
			}
			list := c.mustDo(n, "GET", "/v1/routes?consistency=lease", "")
			var l struct{ Routes []struct{ ID string } }
			list.decode(t, &l)
			if len(l.Routes) != 3 {
				t.Fatalf("%s lists %+v", n.id, l)
			}
		}

		for _, n := range c.nodes {
			// Once /v1/proxy says the data plane serves the last write,
			// it does: no polling needed.
			if r := c.mustDo(n, "GET", fmt.Sprintf("/v1/proxy?wait_index=%d", last), ""); r.code != 200 || r.index() < last {
				t.Fatalf("%s /v1/proxy: %d %s", n.id, r.code, r.body)
			}
			for _, p := range []struct{ host, path, want string }{{"", "/docs", "a /docs "}, {"web.test", "/anything", "b /anything "}} {
				code, body, err := c.proxyGet(n, p.host, p.path)
				if err != nil || code != 200 || !strings.HasPrefix(body, p.want) {
					t.Fatalf("%s proxy %s%s: %d %q %v", n.id, p.host, p.path, code, body, err)
				}
			}
			// Equal weights alternate, so two requests reach both.
			seen := map[string]bool{}
			for i := 0; i < 2; i++ {
				code, body, err := c.proxyGet(n, "", "/api/users?id=7")
				if err != nil || code != 200 || !strings.HasSuffix(body, " /users?id=7 api") {
					t.Fatalf("%s proxy: %d %q %v", n.id, code, body, err)
				}
				seen[body[:1]] = true
			}
			if !seen["a"] || !seen["b"] {
				t.Fatalf("%s's proxy did not balance over a and b: %v", n.id, seen)
			}
			if code, _, _ := c.proxyGet(n, "", "/nowhere"); code != 404 {
				t.Fatalf("%s: unmatched path answered %d", n.id, code)
			}
			// Every node built its table once, at ready, and took each
			// of the three routes as one swap.
			if fr, sw := c.metric(n, "gateway_proxy_full_rebuilds_total"), c.metric(n, "gateway_proxy_route_swaps_total"); fr != 1 || sw != 3 {
				t.Fatalf("%s: full rebuilds %v, route swaps %v; want 1 and 3", n.id, fr, sw)
			}
		}
	})

	t.Run("metrics carry the node and cluster IDs", func(t *testing.T) {
		c.t = t
		defer func() { c.t = t }()
		for _, n := range c.nodes {
			st, err := c.status(n)
			if err != nil || st.ClusterID == "" {
				t.Fatalf("%s status: %+v %v", n.id, st, err)
			}
			ids := map[string]string{"node_id": n.id, "cluster_id": st.ClusterID}
			fams := c.scrape(n)
			raftkit := 0
			for name, fam := range fams {
				if !strings.HasPrefix(name, "raftkit_") {
					continue
				}
				raftkit++
				for _, m := range fam.GetMetric() {
					got := map[string]string{}
					for _, lp := range m.GetLabel() {
						got[lp.GetName()] = lp.GetValue()
					}
					if got["node_id"] != n.id || got["cluster_id"] != st.ClusterID {
						t.Fatalf("%s: %s series labelled %v, want node %s cluster %s", n.id, name, got, n.id, st.ClusterID)
					}
				}
			}
			if raftkit < 30 {
				t.Fatalf("%s serves only %d raftkit_* families", n.id, raftkit)
			}
			// raftkit's, raft's own (through the go-metrics bridge) and
			// the gateway's, side by side.
			for _, want := range []struct {
				name   string
				labels map[string]string
			}{
				{"raftkit_readiness_state", map[string]string{"node_id": n.id, "state": "ready"}},
				{"raftkit_applied_index", ids},
				{"raftkit_raft_bridge_info", ids},
				{"gateway_proxy_routes", nil},
				{"go_goroutines", nil},
			} {
				fam, ok := fams[want.name]
				if !ok {
					t.Fatalf("%s /metrics has no %s", n.id, want.name)
				}
				if v, ok := sample(fam, want.labels); !ok || v < 1 {
					t.Fatalf("%s: %s%v = %v (present %v)", n.id, want.name, want.labels, v, ok)
				}
			}
		}
		// The routes above were written through followers[0], which
		// forwarded them to the leader.
		fams := c.scrape(followers[0])
		if v, _ := sample(fams["raftkit_writes_forwarded_total"], map[string]string{"outcome": "applied"}); v < 2 {
			t.Fatalf("%s forwarded %v writes, want at least 2", followers[0].id, v)
		}
	})

	t.Run("swaps under load drop nothing", func(t *testing.T) {
		c.t = t
		defer func() { c.t = t }()
		swapsBefore := map[*gwNode]float64{}
		for _, n := range c.nodes {
			swapsBefore[n] = c.metric(n, "gateway_proxy_route_swaps_total")
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var ok, bad atomic.Int64
		var firstBad atomic.Value
		for _, n := range c.nodes {
			for k := 0; k < 2; k++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						code, body, err := c.proxyGet(n, "", "/api/load")
						if err != nil || code != 200 {
							bad.Add(1)
							firstBad.CompareAndSwap(nil, fmt.Sprint(n.id, " ", code, " ", body, " ", err))
						} else {
							ok.Add(1)
						}
					}
				}()
			}
		}
		// Ten changes to the route under load, alternating its upstreams.
		var last uint64
		for i := 0; i < 10; i++ {
			ups := []string{a.URL, b.URL}
			if i%2 == 1 {
				ups = []string{b.URL}
			}
			last = c.put(c.nodes[i%3], "api", routeJSON("/api", true, "", ups...))
		}
		for _, n := range c.nodes {
			if r := c.mustDo(n, "GET", fmt.Sprintf("/v1/proxy?wait_index=%d", last), ""); r.code != 200 {
				t.Fatalf("%s: %d %s", n.id, r.code, r.body)
			}
		}
		close(stop)
		wg.Wait()
		t.Logf("%d requests during the swaps, %d failed", ok.Load(), bad.Load())
		if bad.Load() != 0 || ok.Load() == 0 {
			t.Fatalf("%d of %d requests failed during route swaps; first: %v", bad.Load(), ok.Load()+bad.Load(), firstBad.Load())
		}
		for _, n := range c.nodes {
			fr, sw := c.metric(n, "gateway_proxy_full_rebuilds_total"), c.metric(n, "gateway_proxy_route_swaps_total")-swapsBefore[n]
			if fr != 1 || sw < 1 || sw > 10 {
				t.Fatalf("%s: full rebuilds %v, route swaps %v; want 1 and 1..10 (changes may coalesce)", n.id, fr, sw)
			}
		}
	})

	t.Run("bad admin input", func(t *testing.T) {
		c.t = t
		defer func() { c.t = t }()
		before := c.mustDo(leader, "GET", "/v1/routes", "").body
		applies := map[*gwNode]float64{}
		for _, n := range c.nodes {
			applies[n] = c.metric(n, "gateway_admin_applies_total")
		}
		huge := `{"path_prefix":"/x","upstreams":[{"url":"http://127.0.0.1:1"}],"set_headers":{"X-Pad":"` + strings.Repeat("p", 100<<10) + `"}}`
		cases := []struct {
			method, path, body string
			code               int
			reason             string
		}{
			{"PUT", "/v1/routes/x", `{"path_prefix":"/x",`, 400, "truncated"},
			{"PUT", "/v1/routes/x", `{"path_prefix":"/x" "upstreams":[]}`, 400, "malformed JSON"},
			{"PUT", "/v1/routes/x", `{"path_prefix":"/x","upstreams":[{"url":"http://127.0.0.1:1"}],"priority":5}`, 400, "unknown field"},
			{"PUT", "/v1/routes/x", `{"path_prefix":"/x","upstreams":[{"url":"not a url"}]}`, 400, "scheme"},
			{"PUT", "/v1/routes/x", `{"path_prefix":"/x","upstreams":[{"url":"http://127.0.0.1:1","weight":-1}]}`, 400, "out of range"},
			{"PUT", "/v1/routes/x", `{"path_prefix":"x","upstreams":[{"url":"http://127.0.0.1:1"}]}`, 400, "start with"},
			{"PUT", "/v1/routes/x", huge, 413, "larger than"},
			{"PUT", "/v1/routes/api", `{"path_prefix":"/x","upstreams":[{"url":"http://127.0.0.1:1"}],"weight":1}`, 400, "unknown field"},
			{"PATCH", "/v1/routes/api", `{}`, 405, "not allowed"},
			{"POST", "/v1/routes/api", `{}`, 405, "not allowed"},
			{"PUT", "/v1/routes", `{}`, 405, "not allowed"},
			{"GET", "/v1/routes/api?consistency=sometimes", "", 400, "unknown read level"},
			{"GET", "/v1/routes/api?wait_index=soon", "", 400, "wait_index"},
			{"POST", "/v1/routes", `{"id":"api","path_prefix":"/elsewhere","upstreams":[{"url":"http://127.0.0.1:1"}]}`, 409, "already exists"},
			{"PUT", "/v1/routes/other", `{"path_prefix":"/api","upstreams":[{"url":"http://127.0.0.1:1"}]}`, 409, "already serves"},
			{"DELETE", "/v1/routes/nope", "", 404, "does not exist"},
		}
		for _, n := range c.nodes {
			for _, tc := range cases {
				r := c.mustDo(n, tc.method, tc.path, tc.body)
				var e struct{ Error string }
				r.decode(t, &e)
				if r.code != tc.code || !strings.Contains(e.Error, tc.reason) || r.header.Get("X-Raft-Index") == "" {
					t.Errorf("%s: %s %s %.50q: %d %q, want %d with %q", n.id, tc.method, tc.path, tc.body, r.code, e.Error, tc.code, tc.reason)
				}
			}
			// Only the three refusals that depend on the state reached
			// Raft (and changed nothing, checked below).
			if got := c.metric(n, "gateway_admin_applies_total") - applies[n]; got != 3 {
				t.Errorf("%s: %v commands reached Raft, want 3", n.id, got)
			}
		}
		after := c.mustDo(leader, "GET", "/v1/routes", "").body
		if string(after) != string(before) {
			t.Fatalf("bad input changed the routes:\n%s\n%s", before, after)
		}
		// The cluster keeps working.
		idx := c.put(followers[1], "after", routeJSON("/after", false, "", a.URL))
		for _, n := range c.nodes {
			r := c.mustDo(n, "GET", fmt.Sprintf("/v1/routes/after?consistency=stale&wait_index=%d", idx), "")
			if r.code != 200 {
				t.Fatalf("%s: %d %s", n.id, r.code, r.body)
			}
			c.waitProxy(n, "", "/after", "a /after ")
		}
	})

	t.Run("non-voter read replica", func(t *testing.T) {
		c.t = t
		defer func() { c.t = t }()
		replica := c.addNode("-nonvoter")
		st, err := c.status(replica)
		if err != nil {
			t.Fatal(err)
		}
		voters := 0
		for _, m := range st.Members {
			if m.Voter {
				voters++
			}
		}
		if len(st.Members) != 4 || voters != 3 {
			t.Fatalf("members %+v", st.Members)
		}
		// It serves reads and traffic, and forwards writes.
		if r := c.mustDo(replica, "GET", "/v1/routes/api?consistency=strong", ""); r.code != 200 {
			t.Fatalf("strong read on the replica: %d %s", r.code, r.body)
		}
		idx := c.put(replica, "replica", routeJSON("/replica", false, "", b.URL))
		c.mustDo(replica, "GET", fmt.Sprintf("/v1/proxy?wait_index=%d", idx), "")
		if code, body, err := c.proxyGet(replica, "", "/replica"); err != nil || code != 200 || !strings.HasPrefix(body, "b /replica") {
			t.Fatalf("replica proxy: %d %q %v", code, body, err)
		}
		if fr := c.metric(replica, "gateway_proxy_full_rebuilds_total"); fr != 1 {
			t.Fatalf("replica: %v full rebuilds", fr)
		}
	})
}
