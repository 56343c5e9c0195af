// Command campaign runs a long fault-injection campaign: many schedules of
// internal/faultsuite, each from a fresh seed, and a summary of what they
// injected, checked and found.
//
// Usage, from the module root:
//
//	go run ./internal/faultsuite/cmd/campaign -schedules 500
//	go run ./internal/faultsuite/cmd/campaign -duration 40m -first 5000
//	go run ./internal/faultsuite/cmd/campaign -seed 1234   # replay one
//	go run ./internal/faultsuite/cmd/campaign -summarize /tmp/raftkit-campaign/results.jsonl
//
// It builds the suite's test binary once (with -race unless -race=false)
// and runs it in batches (TestCampaign), so that a schedule that panics or
// hangs the process costs one batch, is reported with its seed, and the
// campaign goes on with the next seed. Results are appended to -results as
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
	"time"
)

func main() {
	var (
		schedules = flag.Int("schedules", 500, "how many schedules to run (at most)")
		duration  = flag.Duration("duration", 0, "stop starting batches after this much time (0: no limit)")
		first     = flag.Int64("first", 1000, "the first seed; seeds follow consecutively")
		batch     = flag.Int("batch", 10, "schedules per test process")
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
	if err := run(*schedules, *duration, *first, *batch, *race, *results, *out, *seed, *summarize, *markdown); err != nil {
		fmt.Fprintln(os.Stderr, "campaign:", err)
		os.Exit(1)
	}
}

func run(schedules int, duration time.Duration, first int64, batch int, race bool, results, out string, seed int64, summarize string, markdown bool) error {
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
	var crashes []crash
	next, last := first, first+int64(schedules)
	for next < last {
		if duration > 0 && time.Since(started) > duration {
			fmt.Printf("campaign: -duration %v reached; stopping before seed %d\n", duration, next)
			last = next
			break
		}
		n := min(int64(batch), last-next)
		logPath := filepath.Join(outAbs, fmt.Sprintf("batch-%d.log", next))
		done, runErr := runBatch(bin, next, n, resultsAbs, outAbs, logPath)
		fmt.Printf("campaign: seeds %d..%d: %d done (%v elapsed)\n", next, next+n-1, len(done), time.Since(started).Round(time.Second))
		missing := int64(-1)
		for s := next; s < next+n; s++ {
			if !done[s] {
				missing = s
				break
			}
		}
		if missing < 0 {
			next += n
			continue
		}
		// The process died (a panic, a hang caught by the timeout) while
		// running seed missing: record it and go on after it.
		c := crash{Seed: missing, Log: logPath, Err: fmt.Sprint(runErr), Tail: tail(logPath, 40)}
		crashes = append(crashes, c)
		fmt.Printf("campaign: seed %d CRASHED the test process (%v); log %s\n", missing, runErr, logPath)
		next = missing + 1
	}
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
