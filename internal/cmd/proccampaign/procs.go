package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildGateway builds examples/gateway into dir and returns the binary's
// path. It runs the go command of the current module, so the campaign must
// run from inside the raftkit checkout.
func buildGateway(ctx context.Context, dir string, race bool) (string, error) {
	bin := filepath.Join(dir, "gateway")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	args = append(args, "github.com/raftkit/raftkit/examples/gateway")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s (run the campaign from the raftkit checkout, or pass -gateway): %w", strings.Join(args, " "), err)
	}
	return bin, nil
}

// starter starts processes from one goroutine locked to its OS thread. A
// child's Pdeathsig fires when the thread that started it exits, not the
// process; Go may end idle threads, so every child is started from this
// one thread, which lives until stop, after every child is gone.
type starter struct {
	reqs chan startReq
	done chan struct{}
}

type startReq struct {
	cmd *exec.Cmd
	err chan error
}

func newStarter() *starter {
	s := &starter{reqs: make(chan startReq), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		for r := range s.reqs {
			r.err <- r.cmd.Start()
		}
	}()
	return s
}

func (s *starter) start(cmd *exec.Cmd) error {
	r := startReq{cmd: cmd, err: make(chan error, 1)}
	s.reqs <- r
	return <-r.err
}

// stop ends the starter's thread, which kills any child still alive
// (Pdeathsig). Call it after killing every child.
func (s *starter) stop() {
	close(s.reqs)
	<-s.done
}

// node is one gateway process. Its ports and directory survive restarts.
type node struct {
	idx                            int
	id, dir, logPath               string
	raftAddr, adminAddr, proxyAddr string
	args                           []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when the current process has been reaped
	paused bool
	starts int
	exit   string // how the last process ended, "" while it runs
}

// cluster is the three gateway processes and what the campaign needs to
// control and observe them.
type cluster struct {
	bin     string
	nodes   []*node
	starter *starter
	http    *http.Client // for control requests: status, readiness
	token   string
}

// pickPorts returns n distinct loopback ports that are free now, chosen
// below Linux's ephemeral range (32768+) so that the clients' own
// connections cannot take them between a kill and a restart.
func pickPorts(n int) ([]string, error) {
	var out []string
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for tries := 0; len(out) < n && tries < 1000; tries++ {
		port := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	if len(out) < n {
		return nil, fmt.Errorf("found only %d free loopback ports of %d", len(out), n)
	}
	return out, nil
}

// newCluster prepares (does not start) n nodes under base: node 0
// bootstraps, the others join it. extra goes to every node.
func newCluster(bin, base string, n int, extra []string, token string) (*cluster, error) {
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, err
	}
	ports, err := pickPorts(3 * n)
	if err != nil {
		return nil, err
	}
	c := &cluster{
		bin: bin, starter: newStarter(), token: token,
		http: &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}},
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("node%d", i+1)
		nd := &node{
			idx: i, id: id, dir: filepath.Join(base, id), logPath: filepath.Join(base, id+".log"),
			raftAddr: ports[3*i], adminAddr: ports[3*i+1], proxyAddr: ports[3*i+2],
		}
		nd.args = []string{"-id", id, "-dir", nd.dir, "-raft-addr", nd.raftAddr, "-admin-addr", nd.adminAddr, "-proxy-addr", nd.proxyAddr}
		nd.args = append(nd.args, extra...)
		if i == 0 {
			nd.args = append(nd.args, "-bootstrap")
		} else {
			nd.args = append(nd.args, "-join", c.nodes[0].raftAddr)
		}
		c.nodes = append(c.nodes, nd)
	}
	return c, nil
}

// start starts nd's process (a new process group, killed by the kernel if
// the campaign dies). Its output is appended to its log.
func (c *cluster) start(nd *node) error {
	logf, err := os.OpenFile(nd.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "\n===== proccampaign: start %s %s\n", nd.id, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(c.bin, nd.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := c.starter.start(cmd); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", nd.id, err)
	}
	exited := make(chan struct{})
	nd.mu.Lock()
	nd.cmd, nd.exited, nd.paused, nd.exit = cmd, exited, false, ""
	nd.starts++
	nd.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		nd.mu.Lock()
		nd.exit = fmt.Sprint(err)
		nd.mu.Unlock()
		close(exited)
	}()
	return nil
}

// running reports whether nd's process is alive (paused or not).
func (nd *node) running() bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return false
	}
	select {
	case <-nd.exited:
		return false
	default:
		return true
	}
}

func (nd *node) isPaused() bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.paused
}

// signal sends sig to nd's process group, if the process is alive.
func (nd *node) signal(sig syscall.Signal) error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return nil
	}
	select {
	case <-nd.exited:
		return nil
	default:
	}
	if err := syscall.Kill(-nd.cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%s: kill -%d: %w", nd.id, sig, err)
	}
	switch sig {
	case syscall.SIGSTOP:
		nd.paused = true
	case syscall.SIGCONT, syscall.SIGKILL:
		nd.paused = false
	}
	return nil
}

// kill is kill -9 of nd's process group; it returns once the process is
// reaped.
func (nd *node) kill() error {
	if err := nd.signal(syscall.SIGKILL); err != nil {
		return err
	}
	nd.mu.Lock()
	exited := nd.exited
	nd.mu.Unlock()
	if exited != nil {
		<-exited
	}
	return nil
}

// terminate stops nd gracefully (SIGTERM, after SIGCONT), and kills it
// when it takes longer than grace. It reports whether the stop was
// graceful.
func (nd *node) terminate(grace time.Duration) bool {
	if !nd.running() {
		return true
	}
	_ = nd.signal(syscall.SIGCONT)
	_ = nd.signal(syscall.SIGTERM)
	nd.mu.Lock()
	exited := nd.exited
	nd.mu.Unlock()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-exited:
		return true
	case <-t.C:
		_ = nd.kill()
		return false
	}
}

// killAll kills every process and ends the starter. It is safe to call
// more than once.
func (c *cluster) killAll() {
	for _, nd := range c.nodes {
		_ = nd.signal(syscall.SIGCONT)
		_ = nd.kill()
	}
	if c.starter != nil {
		c.starter.stop()
		c.starter = nil
	}
	c.http.CloseIdleConnections()
}

// request sends a control request to nd's admin API.
func (c *cluster) request(ctx context.Context, nd *node, method, path string, body io.Reader) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+nd.adminAddr+path, body)
	if err != nil {
		return nil, nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp, b, err
}

// status is the part of GET /status the campaign reads.
type status struct {
	Role         string `json:"role"`
	Term         uint64 `json:"term"`
	AppliedIndex uint64 `json:"applied_index"`
	Readiness    struct {
		State string `json:"state"`
	} `json:"readiness"`
	Members []struct {
		Voter bool `json:"voter"`
	} `json:"members"`
}

// waitVoters waits until nd's configuration holds n members, all voters
// (autopilot promotes a joining voter once it is stable), or d passes or
// ctx ends. It reports whether they did.
func (c *cluster) waitVoters(ctx context.Context, d time.Duration, nd *node, n int) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if st, err := c.status(ctx, nd); err == nil && len(st.Members) == n {
			voters := 0
			for _, m := range st.Members {
				if m.Voter {
					voters++
				}
			}
			if voters == n {
				return true
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond): // polling interval of an HTTP probe
		}
	}
	return false
}

func (c *cluster) status(ctx context.Context, nd *node) (status, error) {
	resp, b, err := c.request(ctx, nd, "GET", "/status", nil)
	if err != nil {
		return status{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return status{}, fmt.Errorf("%s: GET /status: %d %s", nd.id, resp.StatusCode, b)
	}
	var st status
	if err := json.Unmarshal(b, &st); err != nil {
		return status{}, fmt.Errorf("%s: GET /status: %w", nd.id, err)
	}
	return st, nil
}

// leader returns the node that says it leads at the highest term, among the
// running, unpaused nodes, or nil when none does.
func (c *cluster) leader(ctx context.Context) *node {
	var best *node
	var term uint64
	for _, nd := range c.nodes {
		if !nd.running() || nd.isPaused() {
			continue
		}
		st, err := c.status(ctx, nd)
		if err == nil && strings.EqualFold(st.Role, "leader") && st.Term >= term {
			best, term = nd, st.Term
		}
	}
	return best
}

// ready reports whether nd's /readyz answers 200.
func (c *cluster) ready(ctx context.Context, nd *node) bool {
	resp, _, err := c.request(ctx, nd, "GET", "/readyz", nil)
	return err == nil && resp.StatusCode == http.StatusOK
}

// exitStatus says how nd's last process ended, "" while one runs.
func (nd *node) exitStatus() string {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.exit
}

// waitReady waits until every node in nds answers /readyz with 200, or d
// passes, or ctx ends, or one of them has no process (it exited by
// itself: it can no longer become ready). It returns the nodes not ready.
func (c *cluster) waitReady(ctx context.Context, d time.Duration, nds ...*node) []*node {
	deadline := time.Now().Add(d)
	for {
		var missing []*node
		dead := false
		for _, nd := range nds {
			if !c.ready(ctx, nd) {
				missing = append(missing, nd)
				dead = dead || !nd.running()
			}
		}
		if len(missing) == 0 || dead || time.Now().After(deadline) || ctx.Err() != nil {
			return missing
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond): // polling interval of an HTTP probe
		}
	}
}

// ids names nds, with how each one's process ended if it did.
func ids(nds []*node) string {
	var s []string
	for _, nd := range nds {
		if e := nd.exitStatus(); e != "" {
			s = append(s, fmt.Sprintf("%s (exited: %s, log %s)", nd.id, e, nd.logPath))
			continue
		}
		s = append(s, nd.id)
	}
	return strings.Join(s, ",")
}
