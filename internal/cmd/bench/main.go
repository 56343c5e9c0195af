package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// options are the command's flags after defaults.
type options struct {
	quick      bool
	reps       int
	duration   time.Duration
	warmup     time.Duration
	scenarios  []string
	systems    []string
	writers    []int
	readers    []int
	sizes      []int // restart: entries in the log
	joinBytes  []int64
	dir        string
	keep       bool
	etcdBin    string
	cpuProfile string
	rec        tuning
	hasRec     bool
	sweep      []string // variant names; nil means all
}

var allScenarios = []string{"disk", "writes", "reads", "restart", "join", "gateway", "sweep"}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.BoolVar(&o.quick, "quick", false, "CI smoke mode: one repetition, short cells, the smallest sizes (under 2 minutes)")
	reps := fs.Int("reps", 0, "repetitions of every figure (default 3, 1 with -quick)")
	dur := fs.Duration("duration", 0, "measured time of each write or read cell (default 1s, 300ms with -quick)")
	warm := fs.Duration("warmup", 0, "unmeasured time before each cell (default 250ms, 100ms with -quick)")
	scen := fs.String("scenarios", "disk,writes,reads,restart,join,gateway", "comma-separated: "+strings.Join(allScenarios, ","))
	sys := fs.String("systems", "raftkit,bareraft,etcd", "comma-separated: raftkit, bareraft, etcd")
	writers := fs.String("writers", "", "concurrent writers per cell (default 1,16,64,256; 1,64 with -quick)")
	readers := fs.String("readers", "1,64", "concurrent readers per cell")
	sizes := fs.String("restart-entries", "", "log lengths for restart (default 10000,100000; 10000 with -quick; add 1000000 for the long run, about 10 more minutes)")
	join := fs.String("join-mb", "", "state sizes in MB for join (default 1,10,100; 1 with -quick)")
	fs.StringVar(&o.dir, "dir", "", "parent of the run's data directory (default: the system temp dir)")
	fs.BoolVar(&o.keep, "keep", false, "keep the data directory after the run")
	fs.StringVar(&o.etcdBin, "etcdpeer", "", "prebuilt etcd peer binary (default: go build "+etcdPeerDir+")")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	sweepFlag := fs.String("sweep", "", "comma-separated sweep variants to run (default all: "+sweepNames()+")")
	recFlag := fs.String("rec", "", "the library's recommended tuning, measured beside the defaults as raftkit-rec and bareraft-rec, e.g. batch=true,maxappend=256 or wal=true")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	pick := func(flagVal, full, quick string) string {
		if flagVal != "" {
			return flagVal
		}
		if o.quick {
			return quick
		}
		return full
	}
	var err error
	o.reps = *reps
	if o.reps == 0 {
		o.reps = 3
		if o.quick {
			o.reps = 1
		}
	}
	if o.reps < 1 {
		return o, fmt.Errorf("-reps must be at least 1")
	}
	o.duration, o.warmup = *dur, *warm
	if o.duration == 0 {
		o.duration = time.Second
		if o.quick {
			o.duration = 300 * time.Millisecond
		}
	}
	if o.warmup == 0 {
		o.warmup = 250 * time.Millisecond
		if o.quick {
			o.warmup = 100 * time.Millisecond
		}
	}
	if o.duration < 0 || o.warmup < 0 {
		return o, fmt.Errorf("-duration and -warmup must not be negative")
	}
	if o.scenarios, err = parseList(*scen, allScenarios); err != nil {
		return o, fmt.Errorf("-scenarios: %w", err)
	}
	if o.systems, err = parseList(*sys, []string{"raftkit", "bareraft", "etcd"}); err != nil {
		return o, fmt.Errorf("-systems: %w", err)
	}
	if o.writers, err = parseInts(pick(*writers, "1,16,64,256", "1,64"), 1, 4096); err != nil {
		return o, fmt.Errorf("-writers: %w", err)
	}
	if o.readers, err = parseInts(*readers, 1, 4096); err != nil {
		return o, fmt.Errorf("-readers: %w", err)
	}
	if o.sizes, err = parseInts(pick(*sizes, "10000,100000", "10000"), 1, 10_000_000); err != nil {
		return o, fmt.Errorf("-restart-entries: %w", err)
	}
	mbs, err := parseInts(pick(*join, "1,10,100", "1"), 0, 4096)
	if err != nil {
		return o, fmt.Errorf("-join-mb: %w", err)
	}
	for _, mb := range mbs {
		o.joinBytes = append(o.joinBytes, int64(mb)<<20)
	}
	if *sweepFlag != "" {
		if o.sweep, err = parseList(*sweepFlag, strings.Split(sweepNames(), ",")); err != nil {
			return o, fmt.Errorf("-sweep: %w", err)
		}
	}
	if *recFlag != "" {
		if o.rec, err = parseTuning(*recFlag); err != nil {
			return o, fmt.Errorf("-rec: %w", err)
		}
		o.hasRec = true
	}
	return o, nil
}

func parseList(s string, allowed []string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !slices.Contains(allowed, p) {
			return nil, fmt.Errorf("unknown %q (choose from %s)", p, strings.Join(allowed, ","))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

func parseInts(s string, lo, hi int) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		v, err := strconv.Atoi(p)
		if err != nil {
			return nil, err
		}
		if v < lo || v > hi {
			return nil, fmt.Errorf("%d not in %d..%d", v, lo, hi)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

func (o options) has(scenario string) bool { return slices.Contains(o.scenarios, scenario) }
func (o options) runs(system string) bool  { return slices.Contains(o.systems, system) }

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench: FAILED:", err)
		os.Exit(1)
	}
}

// run executes the selected scenarios and prints the report to out;
// progress goes to progress. It returns an error when any cell failed
// (after printing what was measured).
func run(ctx context.Context, o options, out, progress io.Writer) (err error) {
	start := time.Now()
	base, err := os.MkdirTemp(o.dir, "raftkit-bench-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(base)
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	logPath := filepath.Join(base, "raft.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	r := &runner{
		o:        o,
		base:     base,
		figs:     newFigures(),
		progress: progress,
		start:    start,
		logger:   hclog.New(&hclog.LoggerOptions{Name: "bench", Level: hclog.Warn, Output: logFile}),
	}
	defer r.closeEtcd()
	fmt.Fprintf(progress, "bench: data under %s (raft logs: %s), %d CPUs, %s\n", base, logPath, runtime.NumCPU(), runtime.Version())

	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"disk", r.disk},
		{"writes", r.writesAndReads},
		{"restart", r.restart},
		{"join", r.join},
		{"gateway", r.gateway},
		{"sweep", r.sweep},
	}
	var failed []error
	for _, s := range steps {
		if s.name == "writes" && !o.has("writes") && !o.has("reads") {
			continue
		}
		if s.name != "writes" && !o.has(s.name) {
			continue
		}
		if err := s.fn(ctx); err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", s.name, err))
			fmt.Fprintf(progress, "bench: %s failed: %v\n", s.name, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	failed = append(failed, r.failures...)

	fmt.Fprintf(out, "# raftkit benchmark: %d CPUs, %s, %d repetition(s), cells of %v after %v warm-up\n",
		runtime.NumCPU(), runtime.Version(), o.reps, o.duration, o.warmup)
	fmt.Fprintf(out, "# each cell: median [min–max] over the repetitions; tuning: raftkit defaults; rec: %s\n", recString(o))
	r.figs.writeTable(out)
	fmt.Fprintln(out)
	r.writeTargets(out)
	fmt.Fprintln(out)
	r.figs.writeLines(out)
	fmt.Fprintf(out, "# total %v\n", time.Since(start).Round(time.Second))
	return errors.Join(failed...)
}

func recString(o options) string {
	if !o.hasRec {
		return "not measured"
	}
	return o.rec.String()
}
