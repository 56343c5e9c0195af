package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type nodeInfo struct {
	ID    string `json:"id"`
	Admin string `json:"admin"`
	Raft  string `json:"raft"`
	Log   string `json:"log"`
}

// summary is what summary.json holds: the run's parameters, what was
// injected and done, what the checks found, and the verdict.
type summary struct {
	Seed           int64      `json:"seed"`
	Duration       string     `json:"duration"`
	ClientsPerNode int        `json:"clients_per_node"`
	Keys           int        `json:"keys"`
	KeyLife        string     `json:"key_life"`
	RaftTimeout    string     `json:"raft_timeout"`
	Race           bool       `json:"race"`
	Token          bool       `json:"token"`
	Out            string     `json:"out"`
	Started        time.Time  `json:"started"`
	Elapsed        string     `json:"elapsed"`
	Nodes          []nodeInfo `json:"nodes"`

	Faults      []fault        `json:"faults"`
	FaultCounts map[string]int `json:"fault_counts"`
	// Ops counts operations by kind/outcome.
	Ops map[string]int `json:"ops"`
	// SlowestRecoveryMS is the longest time from a fault's end until
	// every node was ready again.
	SlowestRecoveryMS int64 `json:"slowest_recovery_ms"`

	Converged       bool             `json:"converged"`
	Linearizability *linearizability `json:"linearizability,omitempty"`
	Fence           struct {
		Compared   int              `json:"compared"`
		Violations int              `json:"violations"`
		Examples   []fenceViolation `json:"examples,omitempty"`
	} `json:"fence"`
	Writes          writeCheck `json:"writes"`
	LevelMismatches int        `json:"level_mismatches"`
	LevelExamples   []Op       `json:"level_examples,omitempty"`
	// Problems are failures other than the checks' counts: a node not
	// ready after a fault or at the end, no convergence, a data race or a
	// crash in a node's log, nothing acknowledged.
	Problems []string `json:"problems"`
	Notes    []string `json:"notes,omitempty"`

	Violations int    `json:"violations"`
	Verdict    string `json:"verdict"` // pass, fail, interrupted
}

// finish fills in the counts and the checks that need no porcupine.
// final is each node's final state, nil when there is none.
func (s *summary) finish(ops []Op, faults []fault, final []map[string]version) {
	s.Elapsed = time.Since(s.Started).Round(time.Second).String()
	s.Faults = faults
	s.FaultCounts = map[string]int{}
	for _, f := range faults {
		s.FaultCounts[f.Name]++
		s.SlowestRecoveryMS = max(s.SlowestRecoveryMS, f.RecoveryMS)
		if len(f.NotReady) > 0 {
			s.Problems = append(s.Problems, fmt.Sprintf("fault %d (%s at %dms): not ready after it (bound %v): %s", f.N, f.Name, f.AtMS, recoveryBound, strings.Join(f.NotReady, "; ")))
		}
		for _, a := range f.Acts {
			if a.Err != "" {
				s.Problems = append(s.Problems, fmt.Sprintf("fault %d: %s %s: %s", f.N, a.Kind, a.Node, a.Err))
			}
		}
	}
	s.Ops = map[string]int{}
	for _, op := range ops {
		s.Ops[string(op.Kind)+"/"+string(op.Result)]++
	}
	s.Fence.Compared, s.Fence.Violations, s.Fence.Examples = checkFence(ops)
	s.LevelMismatches, s.LevelExamples = levelMismatches(ops)
	if final != nil {
		s.Converged = true
		s.Writes = checkWrites(ops, final)
	}
}

// verdict counts the violations and decides.
func (s *summary) verdict() {
	if s.Ops["write/ok"] == 0 {
		s.Problems = append(s.Problems, "no write was acknowledged: the run checked nothing")
	}
	if s.Linearizability != nil && len(s.Linearizability.Unknown) > 0 {
		s.Problems = append(s.Problems, fmt.Sprintf("linearizability undecided for %d keys within -check-timeout", len(s.Linearizability.Unknown)))
	}
	s.Violations = s.Fence.Violations + s.Writes.Lost + s.Writes.Partial + s.Writes.FailedApplied + s.LevelMismatches + len(s.Problems)
	if s.Linearizability != nil {
		s.Violations += len(s.Linearizability.Illegal)
	}
	s.Verdict = "pass"
	if s.Violations > 0 {
		s.Verdict = "fail"
	}
}

// write writes summary.json into the output directory.
func (s *summary) write() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.Out, "summary.json"), append(b, '\n'), 0o644)
}

// print prints the verdict and the checks' counts to stdout.
func (s *summary) print() {
	if s.Elapsed == "" {
		s.Elapsed = time.Since(s.Started).Round(time.Second).String()
	}
	total := 0
	for _, n := range s.Ops {
		total += n
	}
	fmt.Printf("seed %d, %s, %d faults (%s), %d operations (%s), slowest recovery %dms\n",
		s.Seed, s.Elapsed, len(s.Faults), counts(s.FaultCounts), total, counts(s.Ops), s.SlowestRecoveryMS)
	if l := s.Linearizability; l != nil {
		fmt.Printf("linearizability: %d keys, %d operations, %d illegal %v, %d undecided\n", l.Keys, l.Ops, len(l.Illegal), l.Illegal, len(l.Unknown))
		for _, v := range l.Visualizations {
			fmt.Printf("  visualization: %s\n", v)
		}
	}
	fmt.Printf("fence: %d reads compared, %d violations; writes: %d acknowledged, %d lost, %d on some nodes only, %d failed but applied; level mismatches %d; converged %v\n",
		s.Fence.Compared, s.Fence.Violations, s.Writes.Acked, s.Writes.Lost, s.Writes.Partial, s.Writes.FailedApplied, s.LevelMismatches, s.Converged)
	for _, p := range s.Problems {
		fmt.Printf("problem: %s\n", p)
	}
	for _, e := range s.Fence.Examples[:min(len(s.Fence.Examples), 5)] {
		fmt.Printf("fence violation on node %d:\n  earlier %s\n  later   %s\n", e.Node, e.Earlier, e.Later)
	}
	fmt.Printf("%s: %d violations; summary %s\n", strings.ToUpper(s.Verdict), s.Violations, filepath.Join(s.Out, "summary.json"))
}

func counts(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
