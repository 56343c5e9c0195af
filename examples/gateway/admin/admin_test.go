package admin_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func TestWriteThenReadAtEveryLevel(t *testing.T) {
	a := newAPI(t, nil)
	put := a.call("PUT", "/v1/routes/api", routeBody)
	if put.code != 200 {
		t.Fatalf("PUT: %d %s", put.code, put.body)
	}
	idx := uint64(put.json(t)["index"].(float64))
	if idx == 0 || put.index(t) != idx {
		t.Fatalf("PUT index %d, header %s", idx, put.header.Get("X-Raft-Index"))
	}
	for _, level := range []string{"", "strong", "lease", "stale", "STALE"} {
		got := a.call("GET", fmt.Sprintf("/v1/routes/api?consistency=%s&wait_index=%d", level, idx), "")
		if got.code != 200 || got.index(t) < idx {
			t.Fatalf("%s: %d index %d: %s", level, got.code, got.index(t), got.body)
		}
		m := got.json(t)
		if m["id"] != "api" || m["path_prefix"] != "/api" || uint64(m["modified_index"].(float64)) != idx {
			t.Fatalf("%s: %v", level, m)
		}
		want := strings.ToLower(level)
		if want == "" {
			want = "strong"
		}
		if got.header.Get("X-Raft-Consistency") != want || got.header.Get("X-Raft-Known-Leader") != "true" {
			t.Fatalf("%s: headers %v", level, got.header)
		}
	}
	list := a.call("GET", "/v1/routes", "")
	if list.code != 200 || !strings.Contains(list.body, `"id": "api"`) {
		t.Fatalf("list: %d %s", list.code, list.body)
	}
	del := a.call("DELETE", "/v1/routes/api", "")
	if del.code != 200 || del.index(t) <= idx {
		t.Fatalf("DELETE: %d %s", del.code, del.body)
	}
	gone := a.call("GET", "/v1/routes/api", "")
	if gone.code != 404 || gone.index(t) < del.index(t) || !strings.Contains(gone.body, "does not exist") {
		t.Fatalf("GET after DELETE: %d %s", gone.code, gone.body)
	}
	if again := a.call("DELETE", "/v1/routes/api", ""); again.code != 404 {
		t.Fatalf("second DELETE: %d %s", again.code, again.body)
	}
}

func TestCreateAndConflicts(t *testing.T) {
	a := newAPI(t, nil)
	body := `{"id":"web","path_prefix":"/web","upstreams":[{"url":"http://127.0.0.1:9001"}]}`
	first := a.call("POST", "/v1/routes", body)
	if first.code != 201 || first.header.Get("Location") != "/v1/routes/web" || first.json(t)["id"] != "web" {
		t.Fatalf("create: %d %v %s", first.code, first.header, first.body)
	}
	if dup := a.call("POST", "/v1/routes", body); dup.code != 409 || !strings.Contains(dup.body, "already exists") {
		t.Fatalf("duplicate create: %d %s", dup.code, dup.body)
	}
	// Another ID on the same host and prefix would make routing ambiguous.
	if clash := a.call("PUT", "/v1/routes/web2", `{"path_prefix":"/web","upstreams":[{"url":"http://127.0.0.1:9002"}]}`); clash.code != 409 || !strings.Contains(clash.body, `already serves`) {
		t.Fatalf("host+prefix clash: %d %s", clash.code, clash.body)
	}
	if s := a.srv.Stats(); s.Rejected != 2 || s.Refused != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestGroups(t *testing.T) {
	a := newAPI(t, nil)
	if r := a.call("PUT", "/v1/routes/g", `{"path_prefix":"/g","group":"pool"}`); r.code != 400 || !strings.Contains(r.body, `does not exist`) {
		t.Fatalf("unknown group: %d %s", r.code, r.body)
	}
	if r := a.call("PUT", "/v1/groups/pool", `{"upstreams":[{"url":"http://127.0.0.1:9001","weight":2}]}`); r.code != 200 {
		t.Fatalf("PUT group: %d %s", r.code, r.body)
	}
	if r := a.call("PUT", "/v1/routes/g", `{"path_prefix":"/g","group":"pool"}`); r.code != 200 {
		t.Fatalf("route on group: %d %s", r.code, r.body)
	}
	if r := a.call("GET", "/v1/groups/pool", ""); r.code != 200 || !strings.Contains(r.body, `"weight": 2`) {
		t.Fatalf("GET group: %d %s", r.code, r.body)
	}
	if r := a.call("GET", "/v1/groups", ""); r.code != 200 || !strings.Contains(r.body, `"id": "pool"`) {
		t.Fatalf("list groups: %d %s", r.code, r.body)
	}
	if r := a.call("DELETE", "/v1/groups/pool", ""); r.code != 409 || !strings.Contains(r.body, "used by routes") {
		t.Fatalf("delete group in use: %d %s", r.code, r.body)
	}
	a.call("DELETE", "/v1/routes/g", "")
	if r := a.call("DELETE", "/v1/groups/pool", ""); r.code != 200 {
		t.Fatalf("delete unused group: %d %s", r.code, r.body)
	}
	if r := a.call("GET", "/v1/groups/pool", ""); r.code != 404 {
		t.Fatalf("deleted group: %d %s", r.code, r.body)
	}
}

// Bad input gets a 4xx with a reason, and nothing reaches Raft.
func TestBadInputIsRefusedBeforeRaft(t *testing.T) {
	a := newAPI(t, nil)
	if r := a.call("PUT", "/v1/routes/keep", routeBody); r.code != 200 {
		t.Fatal(r.body)
	}
	before := a.call("GET", "/v1/routes", "").body
	applies := a.srv.Stats().Applies
	huge := `{"path_prefix":"/` + strings.Repeat("a", 70<<10) + `","upstreams":[{"url":"http://a:1"}]}`
	cases := []struct {
		method, path, body string
		code               int
		reason             string
	}{
		{"PUT", "/v1/routes/x", `{"path_prefix": "/x", `, 400, "truncated"},
		{"PUT", "/v1/routes/x", `not json`, 400, "malformed JSON"},
		{"PUT", "/v1/routes/x", ``, 400, "empty"},
		{"PUT", "/v1/routes/x", `{"path_prefix":"/x","upstreams":[{"url":"http://a:1"}],"colour":"red"}`, 400, "unknown field"},
		{"PUT", "/v1/routes/x", `{"path_prefix":"/x","upstreams":[{"url":"ftp://a:1"}]}`, 400, "scheme"},
		{"PUT", "/v1/routes/x", `{"path_prefix":"/x","upstreams":[{"url":"http://a:1","weight":-2}]}`, 400, "out of range"},
		{"PUT", "/v1/routes/x", `{"path_prefix":"/x","upstreams":[]}`, 400, "at least one upstream"},
		{"PUT", "/v1/routes/x", huge, 413, "larger than"},
		{"PUT", "/v1/routes/bad%20id", routeBody, 400, "only letters"},
		{"PUT", "/v1/routes/x?timeout=forever", routeBody, 400, "timeout"},
		{"PUT", "/v1/routes/x?consistency=stale", routeBody, 400, "unknown query parameter"},
		{"POST", "/v1/routes", routeBody, 400, "id"},
		{"POST", "/v1/routes/x", routeBody, 405, "not allowed"},
		{"PATCH", "/v1/routes/x", routeBody, 405, "not allowed"},
		{"DELETE", "/v1/routes", "", 405, "not allowed"},
		{"PUT", "/v1/groups/g", `{"upstreams":[{"url":"http://a:1"}],"host":"x"}`, 400, "unknown field"},
		{"GET", "/v1/routes/keep?consistency=eventual", "", 400, "consistency"},
		{"GET", "/v1/routes/keep?wait_index=-1", "", 400, "wait_index"},
		{"GET", "/v1/routes/keep?waitindex=3", "", 400, "unknown query parameter"},
		{"GET", "/v1/routes/keep?wait_index=1&wait_index=2", "", 400, "given 2 times"},
		{"GET", "/v1/nothing", "", 404, "no endpoint"},
	}
	for _, c := range cases {
		r := a.call(c.method, c.path, c.body)
		if r.code != c.code || !strings.Contains(r.body, c.reason) || r.header.Get("Content-Type") != "application/json" || r.header.Get("X-Raft-Index") == "" {
			t.Errorf("%s %s %.40q: %d %s %v, want %d with %q", c.method, c.path, c.body, r.code, r.body, r.header, c.code, c.reason)
		}
		if c.code == 405 && r.header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", c.method, c.path)
		}
	}
	if got := a.srv.Stats().Applies; got != applies {
		t.Fatalf("bad input reached Raft: %d applies, want %d", got, applies)
	}
	if after := a.call("GET", "/v1/routes", "").body; after != before {
		t.Fatalf("routes changed:\n%s\n%s", before, after)
	}
}

func TestWaitIndexTimesOut(t *testing.T) {
	a := newAPI(t, nil)
	r := a.call("GET", "/v1/routes?wait_index=1000000&timeout=100ms", "")
	if r.code != http.StatusGatewayTimeout || !strings.Contains(r.body, "waiting for index 1000000") {
		t.Fatalf("%d %s", r.code, r.body)
	}
}

func TestStatusProbesMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "test_value", Help: "a value"}, func() float64 { return 42 }))
	a := newAPI(t, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	st := a.call("GET", "/status", "")
	m := st.json(t)
	rd := m["readiness"].(map[string]any)
	if st.code != 200 || m["role"] != "Leader" || rd["state"] != "ready" || len(m["members"].([]any)) != 1 {
		t.Fatalf("status: %d %s", st.code, st.body)
	}
	for path, want := range map[string]string{"/readyz": "ready", "/livez": "ok", "/metrics": "test_value 42"} {
		r := a.call("GET", path, "")
		if r.code != 200 || !strings.Contains(r.body, want) || r.header.Get("X-Raft-Index") == "" {
			t.Errorf("%s: %d %q %v", path, r.code, r.body, r.header)
		}
	}
	if r := a.call("DELETE", "/v1/members/n1", ""); r.code != 400 || !strings.Contains(r.body, "cannot remove itself") {
		t.Fatalf("remove self: %d %s", r.code, r.body)
	}
	if r := a.call("DELETE", "/v1/members/ghost", ""); r.code != 200 {
		t.Fatalf("remove a non-member: %d %s", r.code, r.body)
	}
}

func TestProxyEndpointWaitsForTheDataPlane(t *testing.T) {
	a := newAPI(t, nil)
	idx := a.call("PUT", "/v1/routes/api", routeBody).index(t)
	r := a.call("GET", fmt.Sprintf("/v1/proxy?wait_index=%d", idx), "")
	m := r.json(t)
	if r.code != 200 || r.index(t) < idx || uint64(m["synced_index"].(float64)) < idx || m["routes"].(float64) != 1 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	if r := a.call("GET", "/v1/proxy?wait_index=999999&timeout=100ms", ""); r.code != http.StatusGatewayTimeout || !strings.Contains(r.body, "not yet 999999") {
		t.Fatalf("%d %s", r.code, r.body)
	}
	if r := a.call("GET", "/v1/proxy?wait_index=x", ""); r.code != 400 {
		t.Fatalf("%d %s", r.code, r.body)
	}
}
