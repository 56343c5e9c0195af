package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// gatewayDir is the example gateway's package, relative to the module root.
const gatewayDir = "examples/gateway"

// The gateway scenario's shape. The load goes to the proxies of the two
// nodes that are followers when it starts (the leader is the one killed in
// the failover phase, and a killed process serves nobody).
const (
	gwRoutes     = 20              // routes in the table, all under load
	gwConc       = 16              // concurrent proxied requests
	gwDirectConc = 2               // concurrent requests straight to an upstream
	gwChurnRate  = 100             // route changes per second in the churn phase
	gwChurnConc  = 8               // admin requests in flight at most
	gwMaxRecords = 4 << 20         // per run: the load stops recording past it
	gwReqTimeout = 5 * time.Second // one proxied request
	gwWaitLong   = time.Minute     // cluster formation, elections
	gwRounds     = 5               // steady and churn windows of -duration each
)

// gateway measures the example gateway's data plane (real processes, built
// from examples/gateway) in three phases of one continuous load: steady
// (no configuration change), churn (gwChurnRate route changes per second
// through the admin API) and failover (the leader killed with SIGKILL at
// the phase's start). It records requests/s, p50/p99 and failed requests
// per phase, and the proxies' full table builds and per-route swaps.
func (r *runner) gateway(ctx context.Context) error {
	bin, err := buildGateway(ctx, r.base)
	if err != nil {
		return err
	}
	for rep := 0; rep < r.o.reps; rep++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := r.gatewayOnce(ctx, bin); err != nil {
			r.fail(fmt.Sprintf("gateway rep %d", rep+1), err)
		}
	}
	return ctx.Err()
}

// buildGateway builds the example gateway into outDir.
func buildGateway(ctx context.Context, outDir string) (string, error) {
	return goBuild(ctx, filepath.Join(outDir, "gateway"), ".", "./"+gatewayDir)
}

// gwNode is one gateway process.
type gwNode struct {
	id                             string
	raftAddr, adminAddr, proxyAddr string
	cmd                            *exec.Cmd
	exited                         chan struct{}
	lastCPU                        time.Duration
}

// gwCluster is three gateway processes and the upstreams they proxy to.
type gwCluster struct {
	nodes     []*gwNode
	admin     *http.Client
	upstreams []string // URLs
	closeUp   func()
}

// gwStatus is the part of a node's /status the scenario reads.
type gwStatus struct {
	Role      string `json:"role"`
	LeaderID  string `json:"leader_id"`
	Readiness struct {
		State string `json:"state"`
	} `json:"readiness"`
	Members []struct {
		Voter bool `json:"voter"`
	} `json:"members"`
	Gateway struct {
		ProxyServing bool `json:"proxy_serving"`
		Proxy        struct {
			FullRebuilds uint64 `json:"full_rebuilds"`
			RouteSwaps   uint64 `json:"route_swaps"`
			IndexUpdates uint64 `json:"index_updates"`
			TableIndex   uint64 `json:"table_index"`
		} `json:"proxy"`
	} `json:"gateway"`
}

func (r *runner) gatewayOnce(ctx context.Context, bin string) error {
	dir := r.dirFor("gateway")
	if err := mkdir(dir); err != nil {
		return err
	}
	c, err := startGwCluster(ctx, bin, dir)
	if c != nil {
		defer c.close()
	}
	if err != nil {
		return err
	}
	if err := c.putRoutes(ctx, 0); err != nil {
		return err
	}
	leader, err := c.leader(ctx, c.nodes)
	if err != nil {
		return err
	}
	var loaded []*gwNode
	for _, n := range c.nodes {
		if n != leader {
			loaded = append(loaded, n)
		}
	}
	if err := r.gwChurnCost(ctx, c); err != nil {
		return err
	}
	before := map[*gwNode]gwStatus{}
	for _, n := range loaded {
		if before[n], err = c.status(ctx, n); err != nil {
			return err
		}
	}

	t0 := time.Now()
	lg := startGwLoad(ctx, t0, gwConc, proxiedURL(loaded))
	defer lg.stop()
	direct := startGwLoad(ctx, t0, gwDirectConc, func(_, _ int) string { return c.upstreams[0] + "/ping" })
	defer direct.stop()

	wait := func(until time.Duration) error {
		select {
		case <-time.After(time.Until(lg.start.Add(until))):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := wait(r.o.warmup); err != nil {
		return err
	}
	// Steady and churn windows of -duration alternate, gwRounds of each,
	// so that both phases see the same drift of a shared machine.
	var phases []gwPhase
	cpu := map[string]time.Duration{} // CPU of the gateway processes per phase
	var changes, churnFailed int64
	var churnFirst string
	var churnTime time.Duration
	for round := 0; round < gwRounds; round++ {
		for _, name := range []string{"steady", "churn"} {
			from := time.Since(lg.start)
			c0 := c.cpu()
			var ch *gwChurn
			if name == "churn" {
				ch = c.startChurn(ctx)
			}
			err := wait(from + r.o.duration)
			if ch != nil {
				n, f, first := ch.stop()
				changes, churnFailed = changes+n, churnFailed+f
				if churnFirst == "" {
					churnFirst = first
				}
			}
			if err != nil {
				return err
			}
			to := time.Since(lg.start)
			cpu[name] += c.cpu() - c0
			phases = append(phases, gwPhase{name, from, to})
			if ch != nil {
				churnTime += to - from
			}
		}
	}
	afterChurn, err := c.statuses(ctx, loaded)
	if err != nil {
		return err
	}

	cur, err := c.leader(ctx, c.nodes)
	if err != nil {
		return err
	}
	if cur != leader {
		return fmt.Errorf("leadership moved from %s to %s before the failover phase: the loaded nodes are no longer the followers", leader.id, cur.id)
	}
	cFrom := time.Since(lg.start)
	cpu3 := c.cpu()
	killed := time.Now()
	if err := leader.kill(); err != nil {
		return err
	}
	newLeader, err := c.leader(ctx, loaded)
	if err != nil {
		return err
	}
	elected := time.Since(killed)
	// The phase covers the whole election and as long after it as the
	// others last.
	d := gwRounds * r.o.duration
	cTo := max(cFrom+d, time.Since(lg.start)+d/2)
	if err := wait(cTo); err != nil {
		return err
	}
	cpu["failover"] = c.cpu() - cpu3 // the dead leader's share counts as at its death
	recs, truncated := lg.stop()
	directRecs, directTruncated := direct.stop()
	truncated = truncated || directTruncated
	afterFailover, err := c.statuses(ctx, loaded)
	if err != nil {
		return err
	}
	if truncated {
		return fmt.Errorf("the load made more than %d requests: raise gwMaxRecords or shorten -duration", gwMaxRecords)
	}

	phases = append(phases, gwPhase{"failover", cFrom, cTo})
	for _, p := range accountPhases(directRecs, phases) {
		r.figs.add("gateway."+p.name+".direct-p99", "raftkit", "ms", ms(p.p99))
		if p.fail > 0 {
			r.logf("gateway %s: %d requests straight to the upstream failed", p.name, p.fail)
		}
	}
	for _, p := range accountPhases(recs, phases) {
		name := "gateway." + p.name
		r.figs.add(name+".tput", "raftkit", "ops/s", p.rate())
		r.figs.add(name+".p50", "raftkit", "ms", ms(p.p50))
		r.figs.add(name+".p99", "raftkit", "ms", ms(p.p99))
		r.figs.add(name+".failed", "raftkit", "requests", float64(p.fail))
		if cpu[p.name] > 0 {
			r.figs.add(name+".gateway-cpu", "raftkit", "cores", cpu[p.name].Seconds()/p.window.Seconds())
		}
		r.logf("gateway %s: %.0f req/s, p50 %v, p99 %v, %d failed", p.name, p.rate(), p.p50, p.p99, p.fail)
	}
	r.figs.add("gateway.churn.changes", "raftkit", "ops/s", float64(changes)/churnTime.Seconds())
	if churnFailed > 0 {
		r.logf("gateway churn: %d route changes failed, first: %s", churnFailed, churnFirst)
	}
	r.figs.add("gateway.failover.elected", "raftkit", "s", elected.Seconds())

	// Table maintenance on the loaded nodes: builds must stay at the one
	// made at ready; every change must be a per-route swap.
	var builds, rebuilds, swapsChurn, swapsFailover uint64
	for _, n := range loaded {
		b0, b3 := before[n].Gateway.Proxy, afterFailover[n].Gateway.Proxy
		builds = max(builds, b3.FullRebuilds)
		rebuilds += b3.FullRebuilds - b0.FullRebuilds
		swapsChurn += afterChurn[n].Gateway.Proxy.RouteSwaps - b0.RouteSwaps
		swapsFailover += b3.RouteSwaps - afterChurn[n].Gateway.Proxy.RouteSwaps
	}
	r.figs.add("gateway.table.builds-per-node", "raftkit", "count", float64(builds))
	r.figs.add("gateway.table.rebuilds-under-load", "raftkit", "count", float64(rebuilds))
	r.figs.add("gateway.table.swaps-churn-per-node", "raftkit", "count", float64(swapsChurn)/float64(len(loaded)))
	r.logf("gateway: %d route changes (%d failed), new leader %s in %v; per node: %d builds at most, %d rebuilds under load in all, %d swaps in churn, %d after",
		changes, churnFailed, newLeader.id, elected.Round(time.Millisecond), builds, rebuilds, swapsChurn/uint64(len(loaded)), swapsFailover)
	return nil
}

// gwChurnCost measures what one route change costs in CPU, before the load
// starts: a window of twice -duration with nothing to do, then one of
// churn alone (the same driver as the churn phase); twice, because
// /proc counts CPU in 10 ms ticks. It records the gateway
// processes' CPU per change, less their idle CPU over as long, and the
// bench process's own (the churn driver: marshalling, the admin client).
// CPU time, unlike the latency under load, hardly depends on what else
// the machine runs, and it is what the churn takes from the proxies in
// the churn phase. Without /proc it records nothing.
func (r *runner) gwChurnCost(ctx context.Context, c *gwCluster) error {
	self := func() time.Duration {
		v, _ := processCPU(os.Getpid())
		return v
	}
	if _, ok := processCPU(os.Getpid()); !ok {
		return nil
	}
	sleep := func(d time.Duration) error {
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	d := 2 * r.o.duration
	t0, c0 := time.Now(), c.cpu()
	if err := sleep(d); err != nil {
		return err
	}
	t1, c1, s1 := time.Now(), c.cpu(), self()
	ch := c.startChurn(ctx)
	err := sleep(d)
	n, failed, first := ch.stop()
	if err != nil {
		return err
	}
	t2, c2, s2 := time.Now(), c.cpu(), self()
	if failed > 0 {
		r.logf("gateway churn cost: %d route changes failed, first: %s", failed, first)
	}
	if n == 0 {
		return fmt.Errorf("gateway churn cost: no route change succeeded in %v", d)
	}
	idle := time.Duration(float64(c1-c0) * float64(t2.Sub(t1)) / float64(t1.Sub(t0)))
	gw := (c2 - c1 - idle) / time.Duration(n)
	driver := (s2 - s1) / time.Duration(n)
	r.figs.add("gateway.churn.cpu-per-change", "raftkit", "ms", ms(gw))
	r.figs.add("gateway.churn.driver-cpu-per-change", "raftkit", "ms", ms(driver))
	r.logf("gateway churn cost: %d changes in %v without load: %v of gateway CPU per change (3 processes), %v in the bench's churn driver",
		n, t2.Sub(t1).Round(time.Millisecond), gw.Round(time.Microsecond), driver.Round(time.Microsecond))
	return nil
}

// startGwCluster starts three nodes (the first bootstraps, the others
// join it), two upstreams, and waits until every node's proxy serves and
// the leader sees three voters. On error the cluster returned, if any,
// must still be closed.
func startGwCluster(ctx context.Context, bin, dir string) (*gwCluster, error) {
	c := &gwCluster{admin: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: gwChurnConc}}}
	var srvs []*http.Server
	for i := 0; i < 2; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("up%d", i+1)
		srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Upstream", name)
			_, _ = io.WriteString(w, "ok\n")
		})}
		go func() { _ = srv.Serve(ln) }()
		srvs = append(srvs, srv)
		c.upstreams = append(c.upstreams, "http://"+ln.Addr().String())
	}
	c.closeUp = func() {
		for _, s := range srvs {
			_ = s.Close()
		}
	}
	for i := 0; i < 3; i++ {
		ports, err := freeLoopbackPorts(3)
		if err != nil {
			return c, err
		}
		n := &gwNode{id: fmt.Sprintf("node%d", i+1), raftAddr: ports[0], adminAddr: ports[1], proxyAddr: ports[2]}
		args := []string{
			"-id", n.id, "-dir", filepath.Join(dir, n.id), "-raft-addr", n.raftAddr,
			"-admin-addr", n.adminAddr, "-proxy-addr", n.proxyAddr,
			"-admin-insecure", "-allow-loopback-upstreams", "-log-level", "info",
			"-autopilot-stabilization", "500ms",
		}
		if i == 0 {
			args = append(args, "-bootstrap")
		} else {
			args = append(args, "-join", c.nodes[0].raftAddr)
		}
		if err := n.start(bin, filepath.Join(dir, n.id+".log"), args); err != nil {
			return c, err
		}
		c.nodes = append(c.nodes, n)
		if err := c.waitFor(ctx, n.id+" serves", func() bool {
			st, err := c.status(ctx, n)
			return err == nil && st.Gateway.ProxyServing
		}); err != nil {
			return c, err
		}
	}
	err := c.waitFor(ctx, "three voters", func() bool {
		st, err := c.status(ctx, c.nodes[0])
		if err != nil || len(st.Members) != 3 {
			return false
		}
		for _, m := range st.Members {
			if !m.Voter {
				return false
			}
		}
		return true
	})
	return c, err
}

func freeLoopbackPorts(n int) ([]string, error) {
	var out []string
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	return out, nil
}

func (n *gwNode) start(bin, logPath string, args []string) error {
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", n.id, err)
	}
	n.cmd, n.exited = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(n.exited)
	}()
	return nil
}

// cpu returns the CPU time the cluster's gateway processes have used: a
// dead process counts with what it had used when last measured alive.
func (c *gwCluster) cpu() time.Duration {
	var sum time.Duration
	for _, n := range c.nodes {
		if v, ok := processCPU(n.cmd.Process.Pid); ok {
			n.lastCPU = v
		}
		sum += n.lastCPU
	}
	return sum
}

// kill is kill -9; it returns once the process is gone.
func (n *gwNode) kill() error {
	if err := n.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("killing %s: %w", n.id, err)
	}
	<-n.exited
	return nil
}

// stop asks the process to shut down and kills it after a bound.
func (n *gwNode) stop() {
	if n.cmd == nil {
		return
	}
	select {
	case <-n.exited:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(15 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
}

func (c *gwCluster) close() {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.stop()
		}()
	}
	wg.Wait()
	c.admin.CloseIdleConnections()
	if c.closeUp != nil {
		c.closeUp()
	}
}

// waitFor polls cond until it holds, for at most gwWaitLong.
func (c *gwCluster) waitFor(ctx context.Context, what string, cond func() bool) error {
	deadline := time.Now().Add(gwWaitLong)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting until %s", gwWaitLong, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// do sends one admin request and returns the status and body.
func (c *gwCluster) do(ctx context.Context, n *gwNode, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+n.adminAddr+path, rd)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.admin.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

func (c *gwCluster) status(ctx context.Context, n *gwNode) (gwStatus, error) {
	var st gwStatus
	code, b, err := c.do(ctx, n, "GET", "/status", nil)
	if err != nil {
		return st, err
	}
	if code != http.StatusOK {
		return st, fmt.Errorf("%s /status: %d %s", n.id, code, b)
	}
	return st, json.Unmarshal(b, &st)
}

func (c *gwCluster) statuses(ctx context.Context, nodes []*gwNode) (map[*gwNode]gwStatus, error) {
	out := map[*gwNode]gwStatus{}
	for _, n := range nodes {
		st, err := c.status(ctx, n)
		if err != nil {
			return nil, err
		}
		out[n] = st
	}
	return out, nil
}

// leader waits until the given nodes agree on a leader among them.
func (c *gwCluster) leader(ctx context.Context, among []*gwNode) (*gwNode, error) {
	var leader *gwNode
	err := c.waitFor(ctx, "the nodes agree on a leader", func() bool {
		leader = nil
		ids := map[string]bool{}
		for _, n := range among {
			st, err := c.status(ctx, n)
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
	return leader, err
}

// routeBody is route k's JSON at revision rev: both upstreams, and a
// header that changes with rev, so that a change keeps the route's host
// and prefix (the proxy may swap it in place).
func (c *gwCluster) routeBody(k, rev int) []byte {
	ups := make([]map[string]any, len(c.upstreams))
	for i, u := range c.upstreams {
		ups[i] = map[string]any{"url": u}
	}
	b, _ := json.Marshal(map[string]any{
		"path_prefix": fmt.Sprintf("/r%d", k),
		"upstreams":   ups,
		"retries":     1,
		"set_headers": map[string]string{"X-Route-Rev": fmt.Sprint(rev)},
	})
	return b
}

// putRoute writes route k at revision rev through node n and returns the
// write's index.
func (c *gwCluster) putRoute(ctx context.Context, n *gwNode, k, rev int) (uint64, error) {
	code, b, err := c.do(ctx, n, "PUT", fmt.Sprintf("/v1/routes/r%d?timeout=5s", k), c.routeBody(k, rev))
	if err != nil {
		return 0, err
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("PUT r%d on %s: %d %s", k, n.id, code, bytes.TrimSpace(b))
	}
	var res struct{ Index uint64 }
	if err := json.Unmarshal(b, &res); err != nil {
		return 0, err
	}
	return res.Index, nil
}

// putRoutes writes every route and waits until every node's proxy serves
// them.
func (c *gwCluster) putRoutes(ctx context.Context, rev int) error {
	var last uint64
	for k := 0; k < gwRoutes; k++ {
		idx, err := c.putRoute(ctx, c.nodes[k%len(c.nodes)], k, rev)
		if err != nil {
			return err
		}
		last = max(last, idx)
	}
	for _, n := range c.nodes {
		code, b, err := c.do(ctx, n, "GET", fmt.Sprintf("/v1/proxy?wait_index=%d&timeout=30s", last), nil)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("%s's proxy does not reach index %d: %d %s", n.id, last, code, b)
		}
	}
	return nil
}

// gwChurn changes routes at gwChurnRate per second through the admin APIs
// of every node in turn (followers forward to the leader).
type gwChurn struct {
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	done     atomic.Int64
	failed   atomic.Int64
	firstErr atomic.Pointer[string]
}

func (c *gwCluster) startChurn(ctx context.Context) *gwChurn {
	ctx, cancel := context.WithCancel(ctx)
	ch := &gwChurn{cancel: cancel}
	jobs := make(chan int, gwChurnConc)
	for w := 0; w < gwChurnConc; w++ {
		ch.wg.Add(1)
		go func() {
			defer ch.wg.Done()
			for i := range jobs {
				_, err := c.putRoute(ctx, c.nodes[i%len(c.nodes)], i%gwRoutes, i+1)
				switch {
				case err == nil:
					ch.done.Add(1)
				case ctx.Err() == nil:
					ch.failed.Add(1)
					msg := err.Error()
					ch.firstErr.CompareAndSwap(nil, &msg)
				}
			}
		}()
	}
	ch.wg.Add(1)
	go func() {
		defer ch.wg.Done()
		defer close(jobs)
		t := time.NewTicker(time.Second / gwChurnRate)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			select {
			case jobs <- i:
			default: // every worker busy: the rate falls, and is reported
			}
		}
	}()
	return ch
}

// stop ends the churn and returns the changes acknowledged, the failed
// ones and the first failure.
func (ch *gwChurn) stop() (done, failed int64, first string) {
	ch.cancel()
	ch.wg.Wait()
	if p := ch.firstErr.Load(); p != nil {
		first = *p
	}
	return ch.done.Load(), ch.failed.Load(), first
}

// gwLoad is a load of GETs from concurrent workers, each request recorded.
// The scenario runs two: the proxied load, and a small control load sent
// straight to an upstream, which shows what the shared machine alone does
// to latency in each phase.
type gwLoad struct {
	start  time.Time
	cancel context.CancelFunc
	wg     sync.WaitGroup
	client *http.Client
	outs   [][]gwRecord
	count  atomic.Int64

	once      sync.Once
	recs      []gwRecord
	truncated bool
}

// proxiedURL spreads a worker's requests over the proxies and the routes.
func proxiedURL(proxies []*gwNode) func(w, i int) string {
	return func(w, i int) string {
		n := proxies[(w+i)%len(proxies)]
		return fmt.Sprintf("http://%s/r%d/ping", n.proxyAddr, (w*7+i)%gwRoutes)
	}
}

// startGwLoad starts conc workers, each sending GETs to url(worker, i)
// until stop, with start as the time origin of the records.
func startGwLoad(ctx context.Context, start time.Time, conc int, url func(w, i int) string) *gwLoad {
	ctx, cancel := context.WithCancel(ctx)
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: conc, DisableCompression: true}
	lg := &gwLoad{start: start, cancel: cancel, client: &http.Client{Transport: tr, Timeout: gwReqTimeout}, outs: make([][]gwRecord, conc)}
	for w := 0; w < conc; w++ {
		lg.wg.Add(1)
		go func() {
			defer lg.wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				if lg.count.Add(1) > gwMaxRecords {
					return
				}
				t0 := time.Now()
				ok := lg.get(ctx, url(w, i))
				if ctx.Err() != nil {
					return // cut short by the end of the run: not a failure
				}
				lg.outs[w] = append(lg.outs[w], gwRecord{at: t0.Sub(lg.start), took: time.Since(t0), ok: ok})
			}
		}()
	}
	return lg
}

// get reports whether url was answered 200 by an upstream.
func (lg *gwLoad) get(ctx context.Context, url string) bool {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return false
	}
	resp, err := lg.client.Do(req)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err == nil && resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("X-Upstream"), "up")
}

// stop ends the load (idempotent) and returns every record, and whether
// the record bound cut the load short.
func (lg *gwLoad) stop() ([]gwRecord, bool) {
	lg.once.Do(func() {
		lg.cancel()
		lg.wg.Wait()
		lg.client.CloseIdleConnections()
		for _, o := range lg.outs {
			lg.recs = append(lg.recs, o...)
		}
		lg.truncated = lg.count.Load() > gwMaxRecords
	})
	return lg.recs, lg.truncated
}

// gatewayTargets are the data plane's goals (issue 15, item 7).
func (r *runner) gatewayTargets() []target {
	fs := r.figs
	steady, churn := fs.get("gateway.steady.p99", "raftkit"), fs.get("gateway.churn.p99", "raftkit")
	var out []target
	if steady != nil && churn != nil && steady.median() > 0 {
		v := churn.median() / steady.median()
		out = append(out, target{"gateway: p99 churn / p99 steady", v, "<= 1.1", v <= 1.1, ""})
	}
	atMost := func(name, scenario string, goal float64) {
		if f := fs.get(scenario, "raftkit"); f != nil {
			v := f.max() // a count: the worst repetition
			out = append(out, target{name, v, fmt.Sprintf("<= %g (worst rep)", goal), v <= goal, ""})
		}
	}
	atMost("gateway: failed proxied requests across the failover", "gateway.failover.failed", 0)
	atMost("gateway: full table builds per node (the one at ready)", "gateway.table.builds-per-node", 1)
	atMost("gateway: full table rebuilds under load", "gateway.table.rebuilds-under-load", 0)
	if f := fs.get("gateway.table.swaps-churn-per-node", "raftkit"); f != nil {
		out = append(out, target{"gateway: per-route swaps per node in churn", f.min(), "> 0 (worst rep)", f.min() > 0, ""})
	}
	return out
}
