package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// target is one of the goals, checked against the medians, or
// against the median of per-repetition ratios where spread says so.
type target struct {
	name   string
	value  float64
	goal   string
	met    bool
	spread string // the per-repetition ratios' range, for a paired target
}

// targets evaluates every goal the run has figures for.
func (r *runner) targets() []target {
	fs := r.figs
	var out []target
	atLeast := func(name string, v float64, ok bool, min float64) {
		if ok {
			out = append(out, target{name, v, fmt.Sprintf(">= %g", min), v >= min, ""})
		}
	}
	atMost := func(name string, v float64, ok bool, max float64) {
		if ok {
			out = append(out, target{name, v, fmt.Sprintf("<= %g", max), v <= max, ""})
		}
	}
	med := func(scenario, system string) (float64, bool) {
		f := fs.get(scenario, system)
		if f == nil || f.median() == 0 {
			return 0, false
		}
		return f.median(), true
	}
	quot := func(a, b float64, okA, okB bool) (float64, bool) { return a / b, okA && okB && b != 0 }
	// pairedAtLeast checks the median of the per-repetition ratios of a
	// over b (see paired) and shows their range.
	pairedAtLeast := func(name string, a, b *figure, min float64) {
		if p, ok := paired(a, b); ok {
			out = append(out, target{name, p.median, fmt.Sprintf(">= %g", min), p.median >= min,
				fmt.Sprintf("%.3f–%.3f over %d reps", p.min, p.max, p.n)})
		}
	}

	rec := "raftkit"
	if r.o.hasRec {
		rec = "raftkit-rec"
	}
	for _, w := range r.o.writers {
		sc := fmt.Sprintf("writes.leader.w%d.tput", w)
		pairedAtLeast(fmt.Sprintf("writes leader w%d: raftkit / bare raft", w), fs.get(sc, "raftkit"), fs.get(sc, "bareraft"), 1.0)
		if r.o.hasRec {
			pairedAtLeast(fmt.Sprintf("writes leader w%d: raftkit-rec / bareraft-rec", w), fs.get(sc, "raftkit-rec"), fs.get(sc, "bareraft-rec"), 1.0)
		}
		v, ok := fs.ratio(sc, rec, "etcd")
		atLeast(fmt.Sprintf("writes leader w%d: %s / etcd", w, rec), v, ok, 1.0)
	}
	if slices.Contains(r.o.writers, 1) {
		// One writer: the forward's round trip is all a follower adds.
		pairedAtLeast("writes w1: raftkit follower / raftkit leader",
			fs.get("writes.follower.w1.tput", "raftkit"), fs.get("writes.leader.w1.tput", "raftkit"), 0.9)
	}
	for _, n := range r.o.readers {
		sc := fmt.Sprintf("reads.strong.leader.r%d.tput", n)
		pairedAtLeast(fmt.Sprintf("strong reads leader r%d: raftkit / bare VerifyLeader", n), fs.get(sc, "raftkit"), fs.get(sc, "bareraft"), 1.0)
		for _, on := range onNames {
			v, ok := fs.ratio(fmt.Sprintf("reads.strong.%s.r%d.tput", on, n), "raftkit", "etcd")
			atLeast(fmt.Sprintf("strong reads %s r%d: raftkit / etcd linearizable", on, n), v, ok, 1.0)
		}
		fp, ok1 := med(fmt.Sprintf("reads.strong.follower.r%d.p50", n), "raftkit")
		lp, ok2 := med(fmt.Sprintf("reads.strong.leader.r%d.p50", n), "raftkit")
		v, ok := quot(fp, lp, ok1, ok2)
		atMost(fmt.Sprintf("strong reads r%d: follower p50 / leader p50", n), v, ok, 1.5)
		lt, ok1 := med(fmt.Sprintf("reads.lease.leader.r%d.tput", n), "raftkit")
		st, ok2 := med(fmt.Sprintf("reads.stale.leader.r%d.tput", n), "raftkit")
		v, ok = quot(st, lt, ok2, ok1)
		atMost(fmt.Sprintf("lease reads leader r%d: cost / stale cost", n), v, ok, 3)
	}
	if len(r.o.readers) > 0 {
		n := slices.Max(r.o.readers)
		lt, ok1 := med(fmt.Sprintf("reads.lease.leader.r%d.tput", n), "raftkit")
		gt, ok2 := med(fmt.Sprintf("reads.strong.leader.r%d.tput", n), "raftkit")
		v, ok := quot(lt, gt, ok1, ok2)
		atLeast(fmt.Sprintf("lease reads leader r%d: lease / strong", n), v, ok, 10)
	}
	if len(r.o.sizes) > 0 {
		big, small := slices.Max(r.o.sizes), slices.Min(r.o.sizes)
		for _, kind := range []string{"cluster", "follower"} {
			v, ok := med(fmt.Sprintf("restart.%s.durable.%s", kind, sizeName(big)), "raftkit")
			atMost(fmt.Sprintf("restart %s durable %s: raftkit to Ready (s)", kind, sizeName(big)), v, ok, 1)
			if big != small {
				s, ok2 := med(fmt.Sprintf("restart.%s.durable.%s", kind, sizeName(small)), "raftkit")
				q, ok := quot(v, s, ok, ok2)
				atMost(fmt.Sprintf("restart %s durable: raftkit %s / %s", kind, sizeName(big), sizeName(small)), q, ok, 2)
			}
			for _, n := range r.o.sizes {
				v, ok := fs.ratio(fmt.Sprintf("restart.%s.mem.%s", kind, sizeName(n)), "raftkit", "bareraft")
				atLeast(fmt.Sprintf("restart %s mem %s: bare raft time / raftkit time", kind, sizeName(n)), v, ok, 1)
			}
		}
		for _, n := range r.o.sizes {
			v, ok := med(fmt.Sprintf("restart.lone-applied.mem.%s", sizeName(n)), "raftkit")
			atLeast(fmt.Sprintf("restart lone mem %s: raftkit applied fraction (Recovered)", sizeName(n)), v, ok, 1)
		}
	}
	out = append(out, r.gatewayTargets()...)
	return out
}

// writeTargets prints the targets table.
func (r *runner) writeTargets(w io.Writer) {
	ts := r.targets()
	if len(ts) == 0 {
		return
	}
	fmt.Fprintln(w, "## targets (medians)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tmeasured\tgoal\t\tper-repetition ratios")
	for _, t := range ts {
		status := "met"
		if !t.met {
			status = "MISSED"
		}
		fmt.Fprintf(tw, "%s\t%.3f\t%s\t%s\t%s\n", t.name, t.value, t.goal, status, t.spread)
	}
	tw.Flush()
}
