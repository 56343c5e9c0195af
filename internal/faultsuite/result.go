package faultsuite

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/raftkit/raftkit/internal/faultnet"
)

// Result is what one run did and found.
type Result struct {
	Seed     int64         `json:"seed"`
	Schedule Schedule      `json:"schedule"`
	Duration time.Duration `json:"duration"`
	// Faults counts the faults injected, by kind (skipped ones excluded).
	Faults map[Kind]int `json:"faults"`
	// Ops counts the workload's operations by "kind/outcome".
	Ops map[string]int `json:"ops"`
	// Checked counts what each checker examined: "linearizability" (ops
	// in the porcupine history), "writes" (acknowledged and failed writes
	// looked up on every member), "stale-pairs" (ordered Stale read pairs
	// compared), "ready-statuses", "read-your-writes", "convergence"
	// (members compared).
	Checked map[string]int `json:"checked"`
	// Linearizability is porcupine's verdict: "Ok", "Illegal" or "Unknown"
	// (the check ran out of time: inconclusive, not a pass).
	Linearizability porcupine.CheckResult `json:"linearizability"`
	Net             faultnet.Stats        `json:"net"`
	Disk            DiskStats             `json:"disk"`
	// Recovery is how long the cluster took, from the end of every fault
	// (the workload goes on for a second of it), to commit a final write
	// and have every member apply it and be Ready.
	Recovery   time.Duration `json:"recovery"`
	Violations []Violation   `json:"violations"`
	// Expected holds what the checkers found that the schedule expects:
	// linearizability violations of a BeyondDrift schedule, whose clocks
	// break the lease's drift bound. They do not fail the run.
	Expected []Violation `json:"expected,omitempty"`
	Replay   string      `json:"replay"`
	// TestFailed is set by the campaign when the schedule's subtest
	// failed: a violation, or something the checkers do not see (a data
	// race caught by the race detector, an error in the cluster helpers).
	TestFailed bool `json:"test_failed,omitempty"`
	// Notes is what the executor did, with times, for reading a failure.
	Notes []string `json:"notes,omitempty"`
}

// Failed reports whether the run found a violation.
func (r Result) Failed() bool { return len(r.Violations) > 0 || r.TestFailed }

// JSON returns r as one line of JSON.
func (r Result) JSON() []byte {
	b, err := json.Marshal(r)
	if err != nil {
		return []byte(fmt.Sprintf(`{"seed":%d,"error":%q}`, r.Seed, err.Error()))
	}
	return b
}

// check runs every checker on the finished run.
func (r *run) check(final finalState) Result {
	ops := r.hist.Ops()
	res := Result{
		Recovery: final.took,
		Seed:     r.s.Seed,
		Schedule: r.s,
		Faults:   map[Kind]int{},
		Ops:      map[string]int{},
		Checked:  map[string]int{},
		Net:      r.net.Stats(),
		Replay:   r.opts.Replay,
	}
	r.mu.Lock()
	for k, v := range r.faults {
		res.Faults[k] = v
	}
	res.Violations = append(res.Violations, r.viol...)
	res.Notes = append(res.Notes, r.notes...)
	stops := make([][]string, len(r.stops))
	for i := range r.stops {
		stops[i] = append([]string(nil), r.stops[i]...)
	}
	r.mu.Unlock()
	for _, d := range r.disks {
		st := d.Stats()
		res.Disk.Failed += st.Failed
		res.Disk.Stalled += st.Stalled
		res.Disk.Partial += st.Partial
		res.Disk.VotesRefused += st.VotesRefused
	}
	for _, op := range ops {
		res.Ops[string(op.Kind)+"/"+string(op.Result)]++
	}

	lin := checkLinearizable(ops, r.opts.LinearizabilityTimeout, r.opts.OutDir, r.s.Seed)
	res.Linearizability = lin.result
	res.Checked["linearizability"] = lin.ops
	if lin.result == porcupine.Illegal {
		d := "the Strong/Lease reads and writes are not linearizable (porcupine)"
		if lin.visPath != "" {
			d += "; visualization: " + lin.visPath
		}
		v := Violation{Kind: "linearizability", Detail: d}
		if r.s.BeyondDrift {
			v.Detail += fmt.Sprintf(" (expected: clock rates %.3f break the drift bound)", r.s.ClockRates)
			res.Expected = append(res.Expected, v)
		} else {
			res.Violations = append(res.Violations, v)
		}
	}

	for i := range r.s.Members() {
		n, v := checkStaleMonotonic(ops, i, staleCheck{crossCrash: r.s.ReadFence, stops: stops[i], allLevels: true}, r.name(i))
		res.Checked["stale-pairs"] += n
		res.Violations = append(res.Violations, v...)
	}
	n, v := checkReadiness(r.ready.all(), r.name)
	res.Checked["ready-statuses"] = n
	res.Violations = append(res.Violations, v...)
	res.Checked["read-your-writes"] = int(r.ryw.Load())

	// The checks on final state need every member to have applied the
	// same final write.
	if final.err == nil {
		fsms := r.fsms()
		n, v := checkWrites(ops, fsms, r.name)
		res.Checked["writes"] = n
		res.Violations = append(res.Violations, v...)
		res.Violations = append(res.Violations, checkConvergence(fsms, r.name)...)
		res.Checked["convergence"] = len(fsms)
	}
	return res
}

// report prints the result: one summary line when clean, and for each
// violation the seed, the replay command, the schedule, what the executor
// did and the tail of the cluster's log.
func (r *run) report(res *Result) {
	r.t.Logf("seed %d: %v, %d ops, faults %v, checked %v, linearizability %s, %d violations",
		res.Seed, res.Duration.Round(time.Millisecond), len(r.hist.Ops()), res.Faults, res.Checked, res.Linearizability, len(res.Violations))
	for _, v := range res.Expected {
		r.t.Logf("EXPECTED (beyond the drift bound) %s: %s", v.Kind, v.Detail)
	}
	if !res.Failed() {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "FAULT SUITE VIOLATION seed=%d\nreplay: %s\n%s", res.Seed, res.Replay, r.s)
	for _, v := range res.Violations {
		fmt.Fprintf(&b, "VIOLATION %s: %s\n", v.Kind, v.Detail)
	}
	b.WriteString("executor notes:\n")
	for _, n := range res.Notes {
		b.WriteString("  " + n + "\n")
	}
	b.WriteString("last log lines:\n")
	for _, l := range r.logs.tail(150) {
		b.WriteString("  " + l + "\n")
	}
	fmt.Fprintf(&b, "replay: %s\n", res.Replay)
	r.t.Error(b.String())
}
