// Command campaign runs a long fault-injection campaign: many schedules of
// internal/faultsuite, each from a fresh seed, and a summary of what they
// injected, checked and found.
//
// Usage, from the module root:
//
//	go run ./internal/faultsuite/cmd/campaign -schedules 500
//	go run ./internal/faultsuite/cmd/campaign -duration 40m -first 5000
//	go run ./internal/faultsuite/cmd/campaign -schedules 500 -race=false -parallel 2   # ~40 min on 2 cores
//	go run ./internal/faultsuite/cmd/campaign -seed 1234   # replay one
//	go run ./internal/faultsuite/cmd/campaign -summarize /tmp/raftkit-campaign/results.jsonl
//
// It builds the suite's test binary once (with -race unless -race=false)
// and runs it in batches (TestCampaign), so that a schedule that panics or
// hangs the process costs one batch, is reported with its seed, and the
// campaign goes on with the next seed. With -parallel N, N batches (test
// processes) run at once, each on its own seeds. Results are appended to -results as
// one JSON line per schedule (default: results.jsonl in -out, which holds
// the batch logs too; -out defaults to $TMPDIR/raftkit-campaign, outside the
// checkout); the summary is printed at the end (as
// Markdown with -markdown). The exit status is 1 when any schedule found a
// violation or crashed.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

func main() {
	var (
		schedules = flag.Int("schedules", 500, "how many schedules to run (at most)")
		duration  = flag.Duration("duration", 0, "stop starting batches after this much time (0: no limit)")
		first     = flag.Int64("first", 1000, "the first seed; seeds follow consecutively")
		batch     = flag.Int("batch", 10, "schedules per test process")
		parallel  = flag.Int("parallel", 1, "test processes (batches) to run at once")
		race      = flag.Bool("race", true, "build the suite with the race detector")
		results   = flag.String("results", "", "append one JSON line per schedule to this file (default: results.jsonl in -out)")
		out       = flag.String("out", filepath.Join(os.TempDir(), "raftkit-campaign"), "directory for the test binary, batch logs and porcupine visualizations")
		seed      = flag.Int64("seed", 0, "replay this one seed (verbose) instead of a campaign")
		summarize = flag.String("summarize", "", "only summarize an existing results file (with the batch logs in -out)")
		markdown  = flag.Bool("markdown", false, "print the summary as Markdown tables")
	)
	flag.Parse()
	if *results == "" {
		*results = filepath.Join(*out, "results.jsonl")
	}
	if err := run(*schedules, *duration, *first, *batch, *parallel, *race, *results, *out, *seed, *summarize, *markdown); err != nil {
		fmt.Fprintln(os.Stderr, "campaign:", err)
		os.Exit(1)
	}
}

func run(schedules int, duration time.Duration, first int64, batch, parallel int, race bool, results, out string, seed int64, summarize string, markdown bool) error {
	if summarize != "" {
		recs, err := readResults(summarize)
		if err != nil {
			return err
		}
		s := summarizeAll(recs, nil, logReasons(out))
		s.print(os.Stdout, markdown)
		if s.failed > 0 {
			return errors.New("violations found")
		}
		return nil
	}
	switch {
	case schedules <= 0:
		return fmt.Errorf("-schedules must be positive, got %d", schedules)
	case batch <= 0:
		return fmt.Errorf("-batch must be positive, got %d", batch)
	case parallel <= 0:
		return fmt.Errorf("-parallel must be positive, got %d", parallel)
	case duration < 0:
		return fmt.Errorf("-duration must not be negative, got %v", duration)
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	bin := filepath.Join(out, "faultsuite.test")
	args := []string{"test", "-c", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "./internal/faultsuite")...)
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the suite: %w", err)
	}
	bin, _ = filepath.Abs(bin)
	outAbs, _ := filepath.Abs(out)
	resultsAbs, _ := filepath.Abs(results)

	if seed != 0 {
		cmd := exec.Command(bin, "-test.run", "^TestReplay$", "-test.v", "-test.timeout", "10m",
			"-faultsuite.seed", fmt.Sprint(seed), "-faultsuite.out", outAbs)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		return cmd.Run()
	}

	started := time.Now()
	crashes, last := runAll(bin, first, first+int64(schedules), int64(batch), parallel, duration, started, resultsAbs, outAbs)
	recs, err := readResults(resultsAbs)
	if err != nil {
		return err
	}
	var mine []record
	for _, r := range recs {
		if r.Seed >= first && r.Seed < last {
			mine = append(mine, r)
		}
	}
	s := summarizeAll(mine, crashes, logReasons(outAbs))
	s.wall = time.Since(started)
	s.print(os.Stdout, markdown)
	if s.failed > 0 || len(crashes) > 0 {
		return errors.New("violations found")
	}
	return nil
}

// runAll runs the seeds [first, last) in batches of at most batch seeds,
// parallel batches at a time, and returns the processes that crashed and
// the seed before which it stopped (last, or the end of the highest range
// it started when duration ran out). A batch whose process died at seed s is recorded as a crash of s;
// its seeds after s are queued again.
func runAll(bin string, first, last, batch int64, parallel int, duration time.Duration, started time.Time, results, out string) ([]crash, int64) {
	var (
		mu      sync.Mutex
		crashes []crash
		queue   [][2]int64 // seed ranges [from, to) still to run
		cut     bool       // -duration ran out
		reached = first    // the end of the highest range started
		wg      sync.WaitGroup
	)
	for s := first; s < last; s += batch {
		queue = append(queue, [2]int64{s, min(s+batch, last)})
	}
	take := func() ([2]int64, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(queue) == 0 {
			return [2]int64{}, false
		}
		if duration > 0 && time.Since(started) > duration {
			fmt.Printf("campaign: -duration %v reached; not starting seed %d\n", duration, queue[0][0])
			queue, cut = nil, true
			return [2]int64{}, false
		}
		r := queue[0]
		queue = queue[1:]
		reached = max(reached, r[1])
		return r, true
	}
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				r, ok := take()
				if !ok {
					return
				}
				next, n := r[0], r[1]-r[0]
				logPath := filepath.Join(out, fmt.Sprintf("batch-%d.log", next))
				done, runErr := runBatch(bin, next, n, results, out, logPath)
				fmt.Printf("campaign: seeds %d..%d: %d done (%v elapsed)\n", next, next+n-1, len(done), time.Since(started).Round(time.Second))
				missing := int64(-1)
				for s := next; s < next+n; s++ {
					if !done[s] {
						missing = s
						break
					}
				}
				if missing < 0 {
					continue
				}
				// The process died (a panic, a hang caught by the timeout)
				// while running seed missing: record it and go on after it.
				c := crash{Seed: missing, Log: logPath, Err: fmt.Sprint(runErr), Tail: tail(logPath, 40)}
				fmt.Printf("campaign: seed %d CRASHED the test process (%v); log %s\n", missing, runErr, logPath)
				mu.Lock()
				crashes = append(crashes, c)
				if missing+1 < r[1] {
					queue = append([][2]int64{{missing + 1, r[1]}}, queue...)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if cut {
		return crashes, reached
	}
	return crashes, last
}

// runBatch runs n schedules from seed first in one test process and
// returns the seeds whose results were written.
func runBatch(bin string, first, n int64, results, out, logPath string) (map[int64]bool, error) {
	before, _ := readResults(results)
	have := map[int64]int{}
	for _, r := range before {
		have[r.Seed]++
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	// Each schedule takes 10-30s under -race on a loaded machine; a batch
	// that outlives 3 minutes per schedule is hung.
	timeout := time.Duration(n) * 3 * time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run", "^TestCampaign$", "-test.v",
		"-test.timeout", timeout.String(),
		"-faultsuite.campaign", fmt.Sprint(n), "-faultsuite.first", fmt.Sprint(first),
		"-faultsuite.results", results, "-faultsuite.out", out)
	cmd.Stdout, cmd.Stderr = logf, logf
	runErr := cmd.Run()
	after, _ := readResults(results)
	done := map[int64]bool{}
	for _, r := range after {
		if r.Seed >= first && r.Seed < first+n {
			if have[r.Seed] > 0 {
				have[r.Seed]--
				continue
			}
			done[r.Seed] = true
		}
	}
	return done, runErr
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the campaign from inside the raftkit module")
	}
	return filepath.Dir(mod), nil
}

func tail(path string, n int) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// readResults reads the JSON lines of a results file; a missing file is
// empty.
func readResults(path string) ([]record, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}
