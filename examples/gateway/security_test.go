package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// clusterState is what a node holds of the replicated configuration:
// routes and groups with the index that last changed each, and members.
func (c *gwCluster) clusterState(n *gwNode, waitIndex uint64) string {
	c.t.Helper()
	var out []string
	for _, p := range []string{"/v1/routes", "/v1/groups"} {
		r := c.mustDo(n, "GET", fmt.Sprintf("%s?consistency=stale&wait_index=%d", p, waitIndex), "")
		if r.code != 200 {
			c.t.Fatalf("%s on %s: %d %s", p, n.id, r.code, r.body)
		}
		var body map[string][]struct {
			ID       string `json:"id"`
			Modified uint64 `json:"modified_index"`
		}
		r.decode(c.t, &body)
		for kind, items := range body {
			for _, it := range items {
				out = append(out, fmt.Sprintf("%s/%s@%d", kind, it.ID, it.Modified))
			}
		}
	}
	st, err := c.status(n)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, m := range st.Members {
		out = append(out, "member/"+m.ID)
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// marker writes a route with the token and returns its index: once a node
// has applied it, it has applied every write answered before it.
func (c *gwCluster) marker(n *gwNode, up string) (uint64, string) {
	c.t.Helper()
	idx := c.put(n, "marker", routeJSON("/marker", false, "", up))
	return idx, fmt.Sprintf("routes/marker@%d", idx)
}

// Without a valid token the admin API of every node refuses every write
// with 401 (403 for a read-only token), the probes stay open, no node's
// state changes, and no log holds the token that was tried.
func TestAdminRefusesUnauthenticatedWrites(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	up := newTestUpstream(t, "up")
	leader, followers := c.leader()
	keep := c.put(leader, "keep", routeJSON("/keep", false, "", up.URL))
	r := c.mustDo(followers[0], "PUT", "/v1/groups/g", `{"upstreams":[{"url":"`+up.URL+`"}]}`)
	if r.code != 200 {
		t.Fatalf("PUT group: %d %s", r.code, r.body)
	}
	before := map[string]string{}
	for _, n := range c.nodes {
		before[n.id] = c.clusterState(n, max(keep, r.index()))
	}

	const badToken = "gw-bad-token-MUST-NOT-BE-LOGGED-0123456789"
	writes := []struct{ method, path, body string }{
		{"PUT", "/v1/routes/keep", routeJSON("/changed", false, "", up.URL)},
		{"PUT", "/v1/routes/new", routeJSON("/new", false, "", up.URL)},
		{"POST", "/v1/routes", `{"id":"posted","path_prefix":"/posted","upstreams":[{"url":"` + up.URL + `"}]}`},
		{"DELETE", "/v1/routes/keep", ""},
		{"PUT", "/v1/groups/g", `{"upstreams":[{"url":"` + up.URL + `/other"}]}`},
		{"DELETE", "/v1/groups/g", ""},
		{"DELETE", "/v1/members/" + followers[1].id, ""},
	}
	for _, n := range c.nodes {
		for _, cred := range []struct {
			header string
			want   int
		}{
			{"", http.StatusUnauthorized},
			{"Bearer " + badToken, http.StatusUnauthorized},
			{"Basic " + badToken, http.StatusUnauthorized},
			{"Bearer " + testReadToken, http.StatusForbidden},
		} {
			for _, w := range writes {
				r, err := c.doAuth(n, w.method, w.path, w.body, cred.header)
				if err != nil {
					t.Fatal(err)
				}
				var body struct{ Error string }
				if r.code != cred.want || json.Unmarshal(r.body, &body) != nil || body.Error == "" ||
					!strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s: %s %s with %.12q: %d %q %s", n.id, w.method, w.path, cred.header, r.code, r.header.Get("WWW-Authenticate"), r.body)
				}
			}
		}
		for _, p := range []string{"/status", "/metrics", "/v1/routes"} {
			if r, err := c.doAuth(n, "GET", p, "", ""); err != nil || r.code != http.StatusUnauthorized {
				t.Errorf("%s: GET %s without a token: %d %v", n.id, p, r.code, err)
			}
		}
		for _, p := range []string{"/readyz", "/livez"} {
			if r, err := c.doAuth(n, "GET", p, "", ""); err != nil || r.code != 200 {
				t.Errorf("%s: GET %s without a token: %d %v", n.id, p, r.code, err)
			}
		}
	}

	idx, m := c.marker(followers[0], up.URL)
	for _, n := range c.nodes {
		if got, want := c.clusterState(n, idx), before[n.id]; !sameWithMarker(got, want, m) {
			t.Errorf("%s's state changed:\n before %s\n after  %s", n.id, want, got)
		}
	}
	for _, n := range c.nodes {
		b, err := os.ReadFile(n.logPath)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), badToken[:16]) || strings.Contains(string(b), testReadToken[:16]) || strings.Contains(string(b), testWriteToken[:16]) {
			t.Errorf("%s's log holds a token", n.id)
		}
		if !strings.Contains(string(b), "admin request refused") {
			t.Errorf("%s's log does not record the refusals", n.id)
		}
	}
}

// sameWithMarker reports whether after is before plus the marker route.
func sameWithMarker(after, before, marker string) bool {
	want := append(strings.Fields(before), marker)
	slices.Sort(want)
	return after == strings.Join(want, " ")
}

// Routes and groups that point at loopback, link-local (the cloud
// metadata address), unspecified addresses or the node's own listeners
// are refused with 400 naming the field, and no node's state changes.
// node3 runs with the default policy; node1 and node2 allow loopback (as
// a demo on one machine does), which still leaves their own ports out.
func TestAdminRefusesSSRFTargets(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{strictUpstreams: true, perNode: map[int][]string{
		0: {"-allow-loopback-upstreams"}, 1: {"-allow-loopback-upstreams"},
	}})
	up := newTestUpstream(t, "up")
	upPort := up.URL[strings.LastIndexByte(up.URL, ':'):]
	n1, n3 := c.nodes[0], c.nodes[2]
	port := func(addr string) string { return addr[strings.LastIndexByte(addr, ':'):] }
	before := map[string]string{}
	for _, n := range c.nodes {
		before[n.id] = c.clusterState(n, 0)
	}

	targets := map[*gwNode][]string{
		n3: {
			up.URL, "http://127.0.0.1", "http://[::1]" + upPort, "http://localhost" + upPort, "http://[::ffff:127.0.0.1]" + upPort,
			"http://169.254.169.254/latest/meta-data/", "http://0.0.0.0" + upPort, "http://[::]:80",
			"http://" + n3.adminAddr, "http://10.0.0.1",
		},
		n1: {
			"http://" + n1.adminAddr, "https://" + n1.adminAddr + "/v1/routes", "http://localhost" + port(n1.adminAddr),
			"http://" + n1.raftAddr, "http://" + n1.proxyAddr,
			"http://169.254.169.254", "http://0.0.0.0" + upPort, "http://[fe80::1]:80",
		},
	}
	for n, urls := range targets {
		for _, u := range urls {
			for _, w := range []struct{ method, path, body string }{
				{"PUT", "/v1/routes/ssrf", routeJSON("/ssrf", false, "", u)},
				{"POST", "/v1/routes", `{"id":"ssrf","path_prefix":"/ssrf","upstreams":[{"url":"` + u + `"}]}`},
				// A public address first: the refusal names the second.
				{"PUT", "/v1/groups/ssrf", `{"upstreams":[{"url":"http://93.184.216.34"},{"url":"` + u + `"}]}`},
			} {
				r := c.mustDo(n, w.method, w.path, w.body)
				var body struct{ Error, Field string }
				want := "upstreams[0].url"
				if strings.HasPrefix(w.path, "/v1/groups") {
					want = "upstreams[1].url"
				}
				if r.code != http.StatusBadRequest || json.Unmarshal(r.body, &body) != nil || body.Field != want || !strings.Contains(body.Error, "not allowed") {
					t.Errorf("%s: %s %s -> %s: %d %s", n.id, w.method, w.path, u, r.code, r.body)
				}
			}
		}
	}

	idx, m := c.marker(n1, up.URL)
	for _, n := range c.nodes {
		if got := c.clusterState(n, idx); !sameWithMarker(got, before[n.id], m) {
			t.Errorf("%s's state changed:\n before %s\n after  %s", n.id, before[n.id], got)
		}
	}
}

// A node whose admin API would be unauthenticated does not start, nor one
// whose token file every user may read.
func TestGatewayRefusesToStartWithoutAdminAuth(t *testing.T) {
	bin := gatewayBinary(t)
	dir := t.TempDir()
	ports := freePorts(t, 3)
	tokens := dir + "/tokens"
	if err := os.WriteFile(tokens, []byte(testWriteToken+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"-id", "n1", "-dir", dir + "/data", "-raft-addr", ports[0], "-proxy-addr", ports[2], "-bootstrap"}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{append(base, "-admin-addr", ports[1]), 2, "needs authentication"},
		{append(base, "-admin-addr", "0.0.0.0"+ports[1][strings.LastIndexByte(ports[1], ':'):], "-admin-insecure"), 2, "not a loopback address"},
		{append(base, "-admin-addr", ports[1], "-admin-token-file", tokens), 1, "accessible by other users"},
	} {
		out, err := exec.Command(bin, c.args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != c.code || !strings.Contains(string(out), c.want) {
			t.Errorf("%v: %v\n%s", c.args, err, out)
		}
		if strings.Contains(string(out), testWriteToken) {
			t.Errorf("the token is in the output:\n%s", out)
		}
	}
}
