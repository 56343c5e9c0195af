package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The process tests run the real gateway binary as separate processes on
// loopback. Deadlines are generous: the machine is small and shared.
const (
	waitLong    = 60 * time.Second // cluster formation, restarts
	raftTimeout = "500ms"
)

// gwNode is one gateway process: its addresses survive restarts.
type gwNode struct {
	t                              *testing.T
	id, dir, logPath               string
	raftAddr, adminAddr, proxyAddr string
	flags                          []string // -bootstrap / -join and extras

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	exit   error
}

// gwCluster is a set of gateway processes and an HTTP client for them.
type gwCluster struct {
	t      *testing.T
	base   string   // data directories and logs
	common []string // flags every node gets
	nodes  []*gwNode
	client *http.Client
	scheme string
	// auth is the Authorization header every admin request carries
	// (Bearer testWriteToken), unless a test clears it.
	auth      string
	tokenFile string
	// perNode gives more flags to the node with this ID, when set.
	perNode func(id string) []string
}

// The tokens in every test cluster's -admin-token-file.
const (
	testWriteToken = "gw-test-write-token-0123456789abcdef"
	testReadToken  = "gw-test-read-token-0123456789abcdef"
)

type clusterOpts struct {
	extra   []string         // flags for every node
	perNode map[int][]string // flags for node i (0-based) only
	tls     *tls.Config      // client config for an -admin-tls cluster
	// strictUpstreams leaves out -allow-loopback-upstreams, which the
	// test clusters otherwise take to reach their loopback upstreams.
	strictUpstreams bool
	// perNodeID gives more flags to the node with this ID (nodeN), when
	// set; it applies to nodes added later too.
	perNodeID func(id string) []string
}

// newCluster starts n nodes (the first bootstraps, the others join it)
// and waits until every one is ready and sees n members.
func newCluster(t *testing.T, n int, o clusterOpts) *gwCluster {
	t.Helper()
	bin := gatewayBinary(t)
	tr := &http.Transport{TLSClientConfig: o.tls, MaxIdleConnsPerHost: 16}
	c := &gwCluster{t: t, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, scheme: "http"}
	if o.tls != nil {
		c.scheme = "https"
	}
	c.base = t.TempDir()
	c.tokenFile = filepath.Join(c.base, "admin-tokens")
	tokens := "# test cluster\n" + testWriteToken + "\n" + testReadToken + " read\n"
	if err := os.WriteFile(c.tokenFile, []byte(tokens), 0o600); err != nil {
		t.Fatal(err)
	}
	c.auth = "Bearer " + testWriteToken
	c.common = append([]string{"-admin-token-file", c.tokenFile}, o.extra...)
	if !o.strictUpstreams {
		c.common = append(c.common, "-allow-loopback-upstreams")
	}
	c.perNode = o.perNodeID
	for i := 0; i < n; i++ {
		if i == 0 {
			c.nodes = append(c.nodes, c.newNode(append([]string{"-bootstrap"}, o.perNode[i]...)...))
		} else {
			c.nodes = append(c.nodes, c.newNode(append([]string{"-join", c.nodes[0].raftAddr}, o.perNode[i]...)...))
		}
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.resume() // a test may fail with a node stopped
		}
		for _, nd := range c.nodes {
			nd.stop()
		}
		tr.CloseIdleConnections()
		for _, nd := range c.nodes {
			nd.checkLog()
		}
	})
	for _, nd := range c.nodes {
		nd.start(bin)
		c.waitReady(nd)
	}
	for _, nd := range c.nodes {
		// Joining voters enter as non-voters; autopilot promotes them.
		waitFor(t, waitLong, fmt.Sprintf("%s sees %d voters", nd.id, n), func() bool {
			st, err := c.status(nd)
			if err != nil || len(st.Members) != n {
				return false
			}
			for _, m := range st.Members {
				if !m.Voter {
					return false
				}
			}
			return true
		})
	}
	return c
}

// newNode prepares (does not start) the next node, with free ports.
func (c *gwCluster) newNode(flags ...string) *gwNode {
	ports := freePorts(c.t, 3)
	id := fmt.Sprintf("node%d", len(c.nodes)+1)
	nd := &gwNode{
		t: c.t, id: id, dir: filepath.Join(c.base, id), logPath: filepath.Join(c.base, id+".log"),
		raftAddr: ports[0], adminAddr: ports[1], proxyAddr: ports[2],
	}
	nd.flags = append([]string{
		"-id", nd.id, "-dir", nd.dir, "-raft-addr", nd.raftAddr, "-admin-addr", nd.adminAddr,
		"-proxy-addr", nd.proxyAddr, "-raft-timeout", raftTimeout, "-log-level", "debug",
		"-autopilot-stabilization", "500ms",
	}, c.common...)
	if c.perNode != nil {
		nd.flags = append(nd.flags, c.perNode(id)...)
	}
	nd.flags = append(nd.flags, flags...)
	return nd
}

// addNode starts one more node that joins the cluster, and waits until it
// serves.
func (c *gwCluster) addNode(flags ...string) *gwNode {
	c.t.Helper()
	nd := c.newNode(append([]string{"-join", c.nodes[0].raftAddr}, flags...)...)
	c.nodes = append(c.nodes, nd)
	nd.start(gatewayBinary(c.t))
	c.waitReady(nd)
	return nd
}

func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var lns []net.Listener
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

func (n *gwNode) start(bin string) {
	n.t.Helper()
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		n.t.Fatal(err)
	}
	fmt.Fprintf(logf, "\n===== start %s %s\n", n.id, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(bin, n.flags...)
	cmd.Stdout, cmd.Stderr = logf, logf
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		n.t.Fatal(err)
	}
	exited := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		n.mu.Lock()
		n.exit = err
		n.mu.Unlock()
		close(exited)
	}()
}

func (n *gwNode) restart() { n.start(gatewayBinary(n.t)) }

// kill is kill -9.
func (n *gwNode) kill() {
	n.t.Helper()
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if err := cmd.Process.Kill(); err != nil {
		n.t.Fatal(err)
	}
	<-exited
}

// stop asks the process to shut down (SIGTERM) and waits for it, killing
// it if it takes too long. A graceful stop must exit 0.
func (n *gwNode) stop() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		n.mu.Lock()
		err := n.exit
		n.mu.Unlock()
		if err != nil {
			n.t.Errorf("%s: graceful stop exited with %v", n.id, err)
		}
	case <-time.After(30 * time.Second):
		n.t.Errorf("%s did not stop within 30s of SIGTERM", n.id)
		_ = cmd.Process.Kill()
		<-exited
	}
}

// pause and resume are SIGSTOP and SIGCONT: a node that is alive but
// answers nobody.
func (n *gwNode) pause() {
	n.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		n.t.Fatal(err)
	}
}

func (n *gwNode) resume() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil && n.cmd.ProcessState == nil {
		_ = n.cmd.Process.Signal(syscall.SIGCONT)
	}
}

// checkLog fails the test on a data race reported by a -race binary, and
// shows the end of the log when the test failed.
func (n *gwNode) checkLog() {
	b, err := os.ReadFile(n.logPath)
	if err != nil {
		return
	}
	if bytes.Contains(b, []byte("WARNING: DATA RACE")) {
		n.t.Errorf("%s: data race in the gateway process:\n%s", n.id, b)
		return
	}
	if n.t.Failed() {
		lines := strings.Split(string(b), "\n")
		n.t.Logf("---- last lines of %s's log (%s):\n%s", n.id, n.logPath, strings.Join(lines[max(0, len(lines)-80):], "\n"))
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---- HTTP helpers

type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r response) index() uint64 {
	n, _ := strconv.ParseUint(r.header.Get("X-Raft-Index"), 10, 64)
	return n
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
}

// do sends a request to a node's admin API, with the cluster's token.
func (c *gwCluster) do(n *gwNode, method, path, body string) (response, error) {
	return c.doAuth(n, method, path, body, c.auth)
}

// doAuth sends a request with the given Authorization header (none when
// empty).
func (c *gwCluster) doAuth(n *gwNode, method, path, body, authorization string) (response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.scheme+"://"+n.adminAddr+path, rd)
	if err != nil {
		return response{}, err
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{code: resp.StatusCode, header: resp.Header, body: b}, err
}

func (c *gwCluster) mustDo(n *gwNode, method, path, body string) response {
	c.t.Helper()
	r, err := c.do(n, method, path, body)
	if err != nil {
		c.t.Fatalf("%s %s on %s: %v", method, path, n.id, err)
	}
	return r
}

// put writes a route through node n and returns its index.
func (c *gwCluster) put(n *gwNode, id, body string) uint64 {
	c.t.Helper()
	r := c.mustDo(n, "PUT", "/v1/routes/"+id, body)
	if r.code != 200 {
		c.t.Fatalf("PUT %s on %s: %d %s", id, n.id, r.code, r.body)
	}
	var w struct{ Index uint64 }
	r.decode(c.t, &w)
	if w.Index == 0 || w.Index != r.index() {
		c.t.Fatalf("PUT %s: index %d, X-Raft-Index %d", id, w.Index, r.index())
	}
	return w.Index
}

// nodeStatus is the part of /status the tests read.
type nodeStatus struct {
	ID        string `json:"id"`
	ClusterID string `json:"cluster_id"`
	Role      string `json:"role"`
	LeaderID  string `json:"leader_id"`
	Applied   uint64 `json:"applied_index"`
	Persisted uint64 `json:"persisted_index"`
	Readiness struct {
		State  string `json:"state"`
		Reason string `json:"reason"`
	} `json:"readiness"`
	Members []struct {
		ID    string `json:"id"`
		Voter bool   `json:"voter"`
	} `json:"members"`
	Membership string `json:"membership"`
	Cluster    *struct {
		Healthy          bool `json:"healthy"`
		FailureTolerance int  `json:"failure_tolerance"`
		Voters           int  `json:"voters"`
		Servers          []struct {
			ID               string `json:"id"`
			Voter            bool   `json:"voter"`
			Healthy          bool   `json:"healthy"`
			PromotionPending bool   `json:"promotion_pending"`
		} `json:"servers"`
	} `json:"cluster"`
	Gateway struct {
		ProxyServing bool `json:"proxy_serving"`
		Proxy        struct {
			FullRebuilds uint64 `json:"full_rebuilds"`
			RouteSwaps   uint64 `json:"route_swaps"`
			Routes       int    `json:"routes"`
			TableIndex   uint64 `json:"table_index"`
		} `json:"proxy"`
	} `json:"gateway"`
}

func (c *gwCluster) status(n *gwNode) (nodeStatus, error) {
	var st nodeStatus
	r, err := c.do(n, "GET", "/status", "")
	if err != nil {
		return st, err
	}
	if r.code != 200 {
		return st, fmt.Errorf("status %d", r.code)
	}
	return st, json.Unmarshal(r.body, &st)
}

func (c *gwCluster) waitReady(n *gwNode) {
	c.t.Helper()
	waitFor(c.t, waitLong, n.id+" is ready and its proxy serves", func() bool {
		r, err := c.do(n, "GET", "/readyz", "")
		if err != nil || r.code != 200 {
			return false
		}
		st, err := c.status(n)
		return err == nil && st.Gateway.ProxyServing
	})
}

// leader waits until the given nodes agree on a leader among them and
// returns it with the others.
func (c *gwCluster) leader(among ...*gwNode) (*gwNode, []*gwNode) {
	c.t.Helper()
	if len(among) == 0 {
		among = c.nodes
	}
	var leader *gwNode
	waitFor(c.t, waitLong, "the nodes agree on a leader", func() bool {
		leader = nil
		ids := map[string]bool{}
		for _, n := range among {
			st, err := c.status(n)
			if err != nil {
				return false
			}
			ids[st.LeaderID] = true
			if st.Role == "Leader" {
				leader = n
			}
		}
		return leader != nil && len(ids) == 1 && ids[leader.id]
	})
	var rest []*gwNode
	for _, n := range among {
		if n != leader {
			rest = append(rest, n)
		}
	}
	return leader, rest
}

// scrape reads a node's /metrics with the Prometheus text parser.
func (c *gwCluster) scrape(n *gwNode) map[string]*dto.MetricFamily {
	c.t.Helper()
	r := c.mustDo(n, "GET", "/metrics", "")
	if r.code != 200 {
		c.t.Fatalf("%s /metrics: %d %s", n.id, r.code, r.body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		c.t.Fatalf("%s /metrics does not parse: %v", n.id, err)
	}
	return fams
}

// sample is the value of the series of fam whose labels include want (a
// counter's or a gauge's), and whether there is one.
func sample(fam *dto.MetricFamily, want map[string]string) (float64, bool) {
	for _, m := range fam.GetMetric() {
		ok := true
		for k, v := range want {
			found := false
			for _, lp := range m.GetLabel() {
				found = found || lp.GetName() == k && lp.GetValue() == v
			}
			ok = ok && found
		}
		switch {
		case !ok:
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		}
	}
	return 0, false
}

// metric reads one unlabelled metric from a node's /metrics.
func (c *gwCluster) metric(n *gwNode, name string) float64 {
	c.t.Helper()
	fam, ok := c.scrape(n)[name]
	if !ok {
		c.t.Fatalf("%s has no metric %s", n.id, name)
	}
	v, ok := sample(fam, nil)
	if !ok {
		c.t.Fatalf("%s: %s has no value", n.id, name)
	}
	return v
}

// proxyGet sends a request through a node's proxy.
func (c *gwCluster) proxyGet(n *gwNode, host, path string) (int, string, error) {
	req, err := http.NewRequest("GET", "http://"+n.proxyAddr+path, nil)
	if err != nil {
		return 0, "", err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitProxy waits until node n's proxy answers path with a body that
// starts with want.
func (c *gwCluster) waitProxy(n *gwNode, host, path, want string) {
	c.t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		code, body, err := c.proxyGet(n, host, path)
		if err == nil && code == 200 && strings.HasPrefix(body, want) {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s's proxy does not answer %s%s with %q within %v; last: %d %q %v", n.id, host, path, want, waitLong, code, body, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// refuses reports whether nothing accepts connections at addr.
func refuses(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		conn.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}
