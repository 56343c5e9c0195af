package main

import (
	"compress/gzip"
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	duration     time.Duration
	seed         int64
	out          string
	tokenFile    string
	clients      int // per node
	keys         int
	keyLife      time.Duration
	raftTimeout  time.Duration
	race         bool
	gateway      string
	checkTimeout time.Duration
}

// Exit statuses.
const (
	exitPass        = 0
	exitViolation   = 1 // a violation, or the run could not be checked
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("proccampaign", flag.ContinueOnError)
	fs.DurationVar(&c.duration, "duration", 20*time.Minute, "how long faults and the workload run")
	fs.Int64Var(&c.seed, "seed", 0, "seed of the fault schedule and the clients' choices (0: from the clock; printed)")
	fs.StringVar(&c.out, "out", "", "directory for the summary, history, node logs and data (default: a new temporary directory)")
	fs.StringVar(&c.tokenFile, "token-file", "", "admin API token: passed to the gateways as -admin-token-file, sent as \"Authorization: Bearer\" on every request")
	fs.IntVar(&c.clients, "clients", 2, "concurrent HTTP clients per node")
	fs.IntVar(&c.keys, "keys", 4, "keys written and read at any one time")
	fs.DurationVar(&c.keyLife, "key-life", 30*time.Second, "each key slot moves to a fresh key this often (bounds each key's history)")
	fs.DurationVar(&c.raftTimeout, "raft-timeout", time.Second, "the gateways' -raft-timeout (heartbeat and election timeout)")
	fs.BoolVar(&c.race, "race", false, "build the gateway with the race detector")
	fs.StringVar(&c.gateway, "gateway", "", "use this gateway binary instead of building examples/gateway")
	fs.DurationVar(&c.checkTimeout, "check-timeout", 5*time.Minute, "bound on porcupine's search over all keys")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case c.duration <= 0:
		return c, fmt.Errorf("-duration must be positive, got %v", c.duration)
	case c.clients < 1 || c.clients > 64:
		return c, fmt.Errorf("-clients must be in [1, 64], got %d", c.clients)
	case c.keys < 1 || c.keys > 100:
		return c, fmt.Errorf("-keys must be in [1, 100], got %d", c.keys)
	case c.keyLife < time.Second:
		return c, fmt.Errorf("-key-life must be at least 1s, got %v", c.keyLife)
	case c.raftTimeout < 50*time.Millisecond:
		return c, fmt.Errorf("-raft-timeout must be at least 50ms, got %v", c.raftTimeout)
	case c.checkTimeout <= 0:
		return c, fmt.Errorf("-check-timeout must be positive, got %v", c.checkTimeout)
	}
	if c.seed == 0 {
		c.seed = time.Now().UnixNano()
	}
	return c, nil
}

// readToken returns the first write token in path, in the gateway's token
// file format: one token per line, optionally followed by its role ("read"
// or "write", default write); blank lines and lines starting with # are
// skipped.
func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("-token-file: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) == 1 || (len(f) == 2 && f[1] == "write") {
			return f[0], nil
		}
	}
	return "", fmt.Errorf("-token-file %s: no write token in it", path)
}

// writeToken makes a fresh random write token in dir/admin-token, readable
// by its owner only, as the gateway requires.
func writeToken(dir string) (string, error) {
	var b [24]byte
	if _, err := cryptorand.Read(b[:]); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "admin-token")
	data := "# written by proccampaign\n" + hex.EncodeToString(b[:]) + " write\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		return "", err
	}
	return path, nil
}

func run(args []string) int {
	cfg, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return exitPass
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "proccampaign:", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := campaign(ctx, cfg)
	if s != nil {
		if ctx.Err() != nil {
			s.Verdict = "interrupted" // failures after Ctrl-C are the interruption's
		}
		if err != nil && s.Verdict == "" {
			s.Verdict = "error"
			s.Problems = append(s.Problems, err.Error())
		}
		if werr := s.write(); werr != nil {
			fmt.Fprintln(os.Stderr, "proccampaign:", werr)
		}
		s.print()
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "proccampaign: interrupted; every gateway process is stopped")
		return exitInterrupted
	case err != nil:
		fmt.Fprintln(os.Stderr, "proccampaign:", err)
		return exitViolation
	case s.Verdict != "pass":
		return exitViolation
	}
	return exitPass
}

// campaign runs the whole campaign. It returns a summary whenever the
// cluster started, and an error when the run could not be carried out.
// Every gateway process is gone when it returns.
func campaign(ctx context.Context, cfg config) (*summary, error) {
	var tokenPath string
	out := cfg.out
	if out == "" {
		var err error
		if out, err = os.MkdirTemp("", fmt.Sprintf("proccampaign-%d-", cfg.seed)); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	if out, err := filepath.Abs(out); err == nil {
		cfg.out = out
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "%s proccampaign: %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, a...))
	}
	logf("seed %d, output in %s", cfg.seed, cfg.out)

	// The gateway's admin API always requires a token: use the one given,
	// or a fresh one.
	tokenFile := cfg.tokenFile
	if tokenFile == "" {
		var err error
		if tokenFile, err = writeToken(cfg.out); err != nil {
			return nil, err
		}
	}
	token, err := readToken(tokenFile)
	if err != nil {
		return nil, err
	}
	if tokenPath, err = filepath.Abs(tokenFile); err != nil {
		return nil, err
	}

	bin := cfg.gateway
	if bin == "" {
		logf("building examples/gateway (race=%v)", cfg.race)
		var err error
		if bin, err = buildGateway(ctx, cfg.out, cfg.race); err != nil {
			return nil, err
		}
	}
	extra := []string{
		"-raft-timeout", cfg.raftTimeout.String(), "-log-level", "info",
		// Snapshots during the run, so that restarts restore them.
		"-snapshot-threshold", "1024", "-snapshot-interval", "5s",
		// Routes point at a loopback address nothing listens on: the
		// campaign checks the route table, not proxying.
		"-allow-loopback-upstreams",
		"-admin-token-file", tokenPath,
		// Joining voters enter as non-voters; promote them soon.
		"-autopilot-stabilization", "1s",
	}
	c, err := newCluster(bin, filepath.Join(cfg.out, "nodes"), 3, extra, token)
	if err != nil {
		return nil, err
	}
	defer c.killAll()

	s := &summary{
		Seed: cfg.seed, Duration: cfg.duration.String(), ClientsPerNode: cfg.clients, Keys: cfg.keys,
		KeyLife: cfg.keyLife.String(), RaftTimeout: cfg.raftTimeout.String(), Race: cfg.race,
		Token: token != "", Out: cfg.out, Started: time.Now().UTC(),
	}
	for _, nd := range c.nodes {
		s.Nodes = append(s.Nodes, nodeInfo{ID: nd.id, Admin: nd.adminAddr, Raft: nd.raftAddr, Log: nd.logPath})
	}

	// Start the cluster: node 1 bootstraps, the others join it.
	for _, nd := range c.nodes {
		if err := c.start(nd); err != nil {
			return s, err
		}
		if missing := c.waitReady(ctx, recoveryBound, nd); len(missing) > 0 {
			if ctx.Err() != nil {
				return s, ctx.Err()
			}
			return s, fmt.Errorf("%s not ready within %v: %s", nd.id, recoveryBound, ids(missing))
		}
		logf("%s ready: admin http://%s", nd.id, nd.adminAddr)
	}
	if !c.waitVoters(ctx, recoveryBound, c.nodes[0], len(c.nodes)) {
		if ctx.Err() != nil {
			return s, ctx.Err()
		}
		return s, fmt.Errorf("the %d nodes were not all voters within %v", len(c.nodes), recoveryBound)
	}

	// The workload and the faults.
	h := NewHistory()
	w := &workload{h: h, token: token, keys: cfg.keys, keyLife: cfg.keyLife, start: time.Now(), used: map[string]bool{}}
	rng := rand.New(rand.NewPCG(uint64(cfg.seed), 0x70726f63))
	nem := &nemesis{c: c, rng: rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())), electionTimeout: cfg.raftTimeout, start: w.start, log: logf}
	end := w.start.Add(cfg.duration)
	runCtx, stopProgress := context.WithDeadline(ctx, end)
	defer stopProgress()
	var wg sync.WaitGroup
	for i := 0; i < cfg.clients*len(c.nodes); i++ {
		nd := c.nodes[i%len(c.nodes)]
		crng := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.client(ctx, end, i, nd, crng)
		}()
	}
	nemDone := make(chan struct{})
	go func() {
		defer close(nemDone)
		nem.run(ctx, end)
	}()
	ticker := time.NewTicker(time.Minute)
loop:
	for {
		select {
		case <-ticker.C:
			logf("%s", progress(time.Since(w.start), h.counts(), nem.Faults(), c))
		case <-runCtx.Done():
			break loop
		}
	}
	ticker.Stop()
	wg.Wait()
	<-nemDone // the last round is undone and recovered from
	if ctx.Err() != nil {
		s.finish(h.Ops(), nem.Faults(), nil)
		s.Verdict = "interrupted"
		return s, nil
	}
	logf("%s", progress(time.Since(w.start), h.counts(), nem.Faults(), c))

	// Heal, converge, read everything back, check.
	logf("healing and checking")
	missing, err := c.heal(ctx)
	if err != nil {
		return s, err
	}
	for _, nd := range missing {
		s.Problems = append(s.Problems, fmt.Sprintf("%s not ready %v after healing", nd.id, recoveryBound))
	}
	final, err := c.converge(ctx, recoveryBound)
	if err != nil {
		s.Problems = append(s.Problems, err.Error())
	}
	w.finalReads(ctx, c.nodes)
	for _, nd := range c.nodes {
		if !nd.terminate(15 * time.Second) {
			s.Notes = append(s.Notes, nd.id+" did not stop within 15s of SIGTERM")
		}
	}
	ops := h.Ops()
	if err := writeHistory(filepath.Join(cfg.out, "history.jsonl.gz"), ops); err != nil {
		return s, err
	}
	s.finish(ops, nem.Faults(), final)
	lin := checkLinearizable(ops, cfg.checkTimeout, cfg.out)
	s.Linearizability = &lin
	for _, nd := range c.nodes {
		for _, p := range logProblems(nd.logPath) {
			s.Problems = append(s.Problems, nd.id+": "+p)
		}
	}
	s.verdict()
	return s, nil
}

// progress is the one-line summary printed every minute.
func progress(elapsed time.Duration, counts map[string]int, faults []fault, c *cluster) string {
	total := 0
	for _, n := range counts {
		total += n
	}
	up := 0
	for _, nd := range c.nodes {
		if nd.running() && !nd.isPaused() {
			up++
		}
	}
	return fmt.Sprintf("[%v] ops=%d write ok/fail/indet=%d/%d/%d strong ok=%d lease ok=%d stale ok=%d faults=%d up=%d/%d",
		elapsed.Round(time.Second), total,
		counts["write/ok"], counts["write/failed"], counts["write/indeterminate"],
		counts["strong/ok"], counts["lease/ok"], counts["stale/ok"], len(faults), up, len(c.nodes))
}

// writeHistory writes ops as gzipped JSON lines.
func writeHistory(path string, ops []Op) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	enc := json.NewEncoder(zw)
	for _, op := range ops {
		if err := enc.Encode(op); err != nil {
			f.Close()
			return err
		}
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
