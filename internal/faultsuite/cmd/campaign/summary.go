package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// record is the part of a faultsuite.Result the summary reads. It is
// decoded from the JSON the suite writes; the command does not import the
// suite, which is test-only code.
type record struct {
	Seed     int64         `json:"seed"`
	Duration time.Duration `json:"duration"`
	Schedule struct {
		Voters      int  `json:"voters"`
		NonVoters   int  `json:"non_voters"`
		ReadFence   bool `json:"read_fence"`
		BeyondDrift bool `json:"beyond_drift"`
	} `json:"schedule"`
	Faults          map[string]int    `json:"faults"`
	Ops             map[string]int    `json:"ops"`
	Checked         map[string]int    `json:"checked"`
	Linearizability string            `json:"linearizability"`
	Net             map[string]uint64 `json:"net"`
	Disk            map[string]uint64 `json:"disk"`
	Violations      []struct {
		Kind   string `json:"kind"`
		Detail string `json:"detail"`
	} `json:"violations"`
	// Expected are violations a BeyondDrift schedule expects; they do
	// not fail it.
	Expected []struct {
		Kind string `json:"kind"`
	} `json:"expected"`
	Replay     string        `json:"replay"`
	TestFailed bool          `json:"test_failed"`
	Recovery   time.Duration `json:"recovery"`
}

// crash is a schedule that took its test process down.
type crash struct {
	Seed int64
	Log  string
	Err  string
	Tail []string
}

type summary struct {
	schedules, failed, unknown int
	fives, nonVoters, fenced   int
	runTime, wall              time.Duration
	faults, ops, checked       map[string]int
	net, disk                  map[string]uint64
	violations                 map[string][]int64 // kind → seeds
	maxRecovery                time.Duration
	maxRecoverySeed            int64
	replays                    map[int64]string
	crashes                    []crash
	beyondDrift                int
	expected                   []int64 // seeds of BeyondDrift schedules with expected violations
}

func summarizeAll(recs []record, crashes []crash, reasons map[int64][]string) summary {
	s := summary{
		faults: map[string]int{}, ops: map[string]int{}, checked: map[string]int{},
		net: map[string]uint64{}, disk: map[string]uint64{},
		violations: map[string][]int64{}, replays: map[int64]string{}, crashes: crashes,
	}
	for _, r := range recs {
		s.schedules++
		s.runTime += r.Duration
		if r.Schedule.Voters == 5 {
			s.fives++
		}
		if r.Schedule.NonVoters > 0 {
			s.nonVoters++
		}
		if r.Schedule.ReadFence {
			s.fenced++
		}
		if r.Linearizability == "Unknown" {
			s.unknown++
		}
		if r.Schedule.BeyondDrift {
			s.beyondDrift++
			if len(r.Expected) > 0 {
				s.expected = append(s.expected, r.Seed)
			}
		}
		add(s.faults, r.Faults)
		add(s.ops, r.Ops)
		add(s.checked, r.Checked)
		for k, v := range r.Net {
			s.net[k] += v
		}
		for k, v := range r.Disk {
			s.disk[k] += v
		}
		if r.Recovery > s.maxRecovery {
			s.maxRecovery, s.maxRecoverySeed = r.Recovery, r.Seed
		}
		if len(r.Violations) > 0 || r.TestFailed {
			s.failed++
			s.replays[r.Seed] = r.Replay
			kinds := map[string]bool{}
			for _, v := range r.Violations {
				kinds[v.Kind] = true
			}
			for _, k := range reasons[r.Seed] {
				kinds[k] = true
			}
			if len(kinds) == 0 {
				kinds["test-failure"] = true // see the batch log
			}
			for k := range kinds {
				s.violations[k] = append(s.violations[k], r.Seed)
			}
		}
	}
	return s
}

func add(dst, src map[string]int) {
	for k, v := range src {
		dst[k] += v
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s summary) print(w io.Writer, markdown bool) {
	total := 0
	for _, v := range s.faults {
		total += v
	}
	opsTotal := 0
	for _, v := range s.ops {
		opsTotal += v
	}
	if markdown {
		fmt.Fprintf(w, "| schedules | passed | with violations | crashed | linearizability inconclusive | faults | operations | run time | wall time |\n|---|---|---|---|---|---|---|---|---|\n")
		wall := "—" // not known when summarizing a results file
		if s.wall > 0 {
			wall = s.wall.Round(time.Second).String()
		}
		fmt.Fprintf(w, "| %d | %d | %d | %d | %d | %d | %d | %v | %s |\n\n", s.schedules, s.schedules-s.failed, s.failed,
			len(s.crashes), s.unknown, total, opsTotal, s.runTime.Round(time.Second), wall)
		fmt.Fprintf(w, "Cluster shapes: %d with 5 voters, %d with a non-voter, %d with the read fence on. Slowest recovery after the faults ended: %v (seed %d).\n\n",
			s.fives, s.nonVoters, s.fenced, s.maxRecovery.Round(time.Millisecond), s.maxRecoverySeed)
		fmt.Fprintf(w, "| fault | injected |\n|---|---|\n")
		for _, k := range sortedKeys(s.faults) {
			fmt.Fprintf(w, "| %s | %d |\n", k, s.faults[k])
		}
		fmt.Fprintf(w, "\n| operation/outcome | count |\n|---|---|\n")
		for _, k := range sortedKeys(s.ops) {
			fmt.Fprintf(w, "| %s | %d |\n", k, s.ops[k])
		}
		fmt.Fprintf(w, "\n| checker | items checked |\n|---|---|\n")
		for _, k := range sortedKeys(s.checked) {
			fmt.Fprintf(w, "| %s | %d |\n", k, s.checked[k])
		}
		fmt.Fprintf(w, "\n| network / disk effect | count |\n|---|---|\n")
		for _, k := range sortedKeys(s.net) {
			fmt.Fprintf(w, "| net %s | %d |\n", k, s.net[k])
		}
		for _, k := range sortedKeys(s.disk) {
			fmt.Fprintf(w, "| disk %s | %d |\n", k, s.disk[k])
		}
		fmt.Fprintf(w, "\n| violation | schedules (seeds) |\n|---|---|\n")
		if len(s.violations) == 0 && len(s.crashes) == 0 {
			fmt.Fprintf(w, "| none | |\n")
		}
		for _, k := range sortedKeys(s.violations) {
			fmt.Fprintf(w, "| %s | %d (%s) |\n", k, len(s.violations[k]), seeds(s.violations[k]))
		}
		for _, c := range s.crashes {
			fmt.Fprintf(w, "| process crash | seed %d |\n", c.Seed)
		}
		return
	}
	fmt.Fprintf(w, "schedules: %d run, %d passed, %d with violations, %d crashed the process; linearizability inconclusive in %d\n",
		s.schedules, s.schedules-s.failed, s.failed, len(s.crashes), s.unknown)
	fmt.Fprintf(w, "shapes: %d with 5 voters, %d with a non-voter, %d with the read fence\n", s.fives, s.nonVoters, s.fenced)
	if s.beyondDrift > 0 {
		fmt.Fprintf(w, "beyond the drift bound (violations expected, not counted): %d schedules, %d with expected linearizability violations (seeds %s)\n",
			s.beyondDrift, len(s.expected), seeds(s.expected))
	}
	fmt.Fprintf(w, "time: %v in schedules, %v wall; slowest recovery after the faults %v (seed %d)\n",
		s.runTime.Round(time.Second), s.wall.Round(time.Second), s.maxRecovery.Round(time.Millisecond), s.maxRecoverySeed)
	fmt.Fprintf(w, "faults injected (%d): %s\n", total, kv(s.faults))
	fmt.Fprintf(w, "operations (%d): %s\n", opsTotal, kv(s.ops))
	fmt.Fprintf(w, "checked: %s\n", kv(s.checked))
	fmt.Fprintf(w, "network: %s\n", kv64(s.net))
	fmt.Fprintf(w, "disk: %s\n", kv64(s.disk))
	for _, k := range sortedKeys(s.violations) {
		fmt.Fprintf(w, "VIOLATION %s in %d schedules: seeds %s\n", k, len(s.violations[k]), seeds(s.violations[k]))
		fmt.Fprintf(w, "  replay: %s\n", s.replays[s.violations[k][0]])
	}
	for _, c := range s.crashes {
		fmt.Fprintf(w, "CRASH seed %d: %s (log %s)\n  %s\n", c.Seed, c.Err, c.Log, strings.Join(c.Tail, "\n  "))
		fmt.Fprintf(w, "  replay: go run ./internal/faultsuite/cmd/campaign -seed %d\n", c.Seed)
	}
}

func seeds(xs []int64) string {
	parts := make([]string, 0, len(xs))
	for i, x := range xs {
		if i == 20 {
			parts = append(parts, fmt.Sprintf("... %d more", len(xs)-20))
			break
		}
		parts = append(parts, fmt.Sprint(x))
	}
	return strings.Join(parts, ", ")
}

func kv(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func kv64(m map[string]uint64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// logReasons scans the batch logs in dir for failures the results cannot
// show: a data race reported while a seed ran.
func logReasons(dir string) map[int64][]string {
	out := map[int64][]string{}
	logs, _ := filepath.Glob(filepath.Join(dir, "batch-*.log"))
	for _, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		seed := int64(-1)
		for _, line := range strings.Split(string(b), "\n") {
			if m := runLine.FindStringSubmatch(line); m != nil {
				seed, _ = strconv.ParseInt(m[1], 10, 64)
			}
			if seed >= 0 && strings.Contains(line, "WARNING: DATA RACE") {
				if !slices.Contains(out[seed], "data-race") {
					out[seed] = append(out[seed], "data-race")
				}
			}
		}
	}
	return out
}

var runLine = regexp.MustCompile(`=== (?:RUN|CONT)\s+TestCampaign/seed=(\d+)`)
