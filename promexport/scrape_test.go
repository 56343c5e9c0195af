package promexport_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/mux"
	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/internal/testutil"
	"github.com/raftkit/raftkit/promexport"
	"github.com/raftkit/raftkit/raftsync"
)

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// scrape GETs url over HTTP and parses the answer with the Prometheus
// text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the scrape: %v", err)
	}
	return fams
}

// series returns the series of fam whose labels include want.
func series(fam *dto.MetricFamily, want map[string]string) []*dto.Metric {
	var out []*dto.Metric
	for _, m := range fam.GetMetric() {
		ok := true
		for k, v := range want {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			ok = ok && found
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// value is the value of the one series of fams[name] with labels want;
// for a summary, its count.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	fam, ok := fams[name]
	if !ok {
		t.Fatalf("no family %s", name)
	}
	s := series(fam, want)
	if len(s) != 1 {
		t.Fatalf("%s%v: %d series, want 1", name, want, len(s))
	}
	switch m := s[0]; {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Summary != nil:
		return float64(m.Summary.GetSampleCount())
	}
	t.Fatalf("%s: no value", name)
	return 0
}

// documentedNames reads the metric names in docs/metrics.md's table.
func documentedNames(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(raftkit_\\w+)` \\|").FindAllStringSubmatch(string(b), -1) {
		names = append(names, m[1])
	}
	if len(names) < 30 {
		t.Fatalf("found only %d documented metrics", len(names))
	}
	return names
}

// TestScrapeFindsEveryDocumentedMetric: three nodes registered in one
// registry, served over HTTP and scraped with the Prometheus text parser,
// give every documented family, a series per node labelled with its node
// and cluster IDs, and counters that moved with what the cluster did.
func TestScrapeFindsEveryDocumentedMetric(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	leader := c.Leader()
	follower := c.Followers()[0]

	reg := prometheus.NewRegistry()
	for _, m := range c.Members {
		if err := promexport.Register(reg, m.Node); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	ctx := ctxTimeout(t, 30*time.Second)
	if _, err := follower.Node.Apply(ctx, testcluster.Set("k", "v")); err != nil {
		t.Fatal(err)
	}
	for _, l := range consistency.Levels() {
		if _, err := follower.Node.ReadIndex(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	// The first Lease read on the leader runs a round, which grants the
	// lease; one soon after is served from it.
	testutil.WaitFor(t, 10*time.Second, "a lease hit on the leader", func() bool {
		if _, err := leader.Node.ReadIndex(ctx, consistency.Lease); err != nil {
			t.Fatal(err)
		}
		return leader.Node.Metrics().LeaseHits[consistency.Lease] > 0
	})
	if err := leader.Node.Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	var backup bytes.Buffer
	if err := leader.Node.Backup(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	// A connection of a kind nobody serves is rejected by the listener.
	conn, err := net.Dial("tcp", follower.Addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte{'Z'})
	io.Copy(io.Discard, conn) // until the node closes it
	conn.Close()
	testutil.WaitFor(t, 10*time.Second, "the rejection counted", func() bool {
		return follower.Node.Metrics().Rejected[mux.RejectUnknownKind] > 0
	})
	testutil.WaitFor(t, 10*time.Second, "autopilot's first evaluation", func() bool {
		return leader.Node.Metrics().AutopilotKnown
	})

	fams := scrape(t, srv.URL)
	for _, name := range documentedNames(t) {
		fam, ok := fams[name]
		if !ok {
			t.Errorf("the scrape has no %s", name)
			continue
		}
		for _, m := range c.Members {
			if strings.HasPrefix(name, "raftkit_autopilot_") && name != "raftkit_autopilot_dead_servers_removed_total" && m != leader {
				continue // the leader's view only
			}
			if name == "raftkit_raft_bridge_info" && m != c.Members[0] {
				continue // one per registry, with the first node's labels
			}
			if len(series(fam, map[string]string{"node_id": m.ID, "cluster_id": m.Node.ClusterID()})) == 0 {
				t.Errorf("%s has no series labelled with %s in cluster %q", name, m.ID, m.Node.ClusterID())
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	l := map[string]string{"node_id": leader.ID}
	f := map[string]string{"node_id": follower.ID}
	with := func(base map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	atLeast := []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"raftkit_readiness_state", with(f, "state", "ready"), 1},
		{"raftkit_readiness_transitions_total", with(f, "state", "ready"), 1},
		{"raftkit_is_leader", l, 1},
		{"raftkit_applied_index", f, 1},
		{"raftkit_writes_forwarded_total", with(f, "outcome", "applied"), 1},
		{"raftkit_reads_total", with(f, "level", "strong"), 1},
		{"raftkit_reads_total", with(f, "level", "stale"), 1},
		{"raftkit_read_forwarded_total", with(f, "level", "lease", "result", "ok"), 1},
		{"raftkit_read_lease_total", with(l, "level", "lease", "result", "hit"), 1},
		{"raftkit_read_rounds_total", with(l, "result", "confirmed"), 1},
		{"raftkit_snapshot_persist_duration_seconds", l, 1},
		{"raftkit_snapshot_persist_size_bytes", l, 1},
		{"raftkit_backup_duration_seconds", l, 1},
		{"raftkit_connections_rejected_total", with(f, "reason", "unknown_kind"), 1},
		{"raftkit_autopilot_healthy", l, 0},
		// raft's own, through the go-metrics bridge: the Apply above.
		{"raftkit_raft_apply", map[string]string{"node_id": c.Members[0].ID}, 1},
	}
	for _, a := range atLeast {
		if v := value(t, fams, a.name, a.labels); v < a.min {
			t.Errorf("%s%v = %v, want at least %v", a.name, a.labels, v, a.min)
		}
	}
	if v := value(t, fams, "raftkit_is_leader", f); v != 0 {
		t.Errorf("raftkit_is_leader on the follower = %v", v)
	}
	if fams["raftkit_raft_apply"].GetType() != dto.MetricType_COUNTER {
		t.Errorf("raftkit_raft_apply is a %v", fams["raftkit_raft_apply"].GetType())
	}
}

// TestHandlerServesOneNode: the one-line Handler serves a node's families,
// raft's, and the Go runtime's, labelled with the node.
func TestHandlerServesOneNode(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.Options{})
	m := c.Members[0]
	srv := httptest.NewServer(promexport.Handler(m.Node))
	defer srv.Close()
	if _, err := m.Node.Apply(ctxTimeout(t, 10*time.Second), testcluster.Set("a", "b")); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, srv.URL)
	lbl := map[string]string{"node_id": m.ID, "cluster_id": m.Node.ClusterID()}
	if v := value(t, fams, "raftkit_readiness_state", map[string]string{"node_id": m.ID, "state": "ready"}); v != 1 {
		t.Errorf("ready = %v", v)
	}
	if v := value(t, fams, "raftkit_applied_index", lbl); v < 1 {
		t.Errorf("applied index %v", v)
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no go_goroutines")
	}
	if value(t, fams, "raftkit_raft_bridge_info", lbl) != 1 {
		t.Error("raft bridge not labelled with the node")
	}

	// A closed node still answers, with its final counts and the Closed
	// state.
	node := c.Detach(m)
	if err := node.Close(); err != nil {
		t.Fatal(err)
	}
	fams = scrape(t, srv.URL)
	if v := value(t, fams, "raftkit_readiness_state", map[string]string{"node_id": m.ID, "state": "closed"}); v != 1 {
		t.Errorf("closed = %v after Close", v)
	}
	if v := value(t, fams, "raftkit_applied_index", lbl); v < 1 {
		t.Errorf("applied index %v after Close", v)
	}
}

// TestRegisterRefusesNil: a nil registry or node is an error, not a panic.
func TestRegisterRefusesNil(t *testing.T) {
	if err := promexport.Register(nil, nil); err == nil {
		t.Fatal("Register(nil, nil) succeeded")
	}
	var n *raftsync.Node
	if err := promexport.Register(prometheus.NewRegistry(), n); err == nil {
		t.Fatal("Register with a nil node succeeded")
	}
}
