package faultsuite

import (
	"fmt"
	"sort"

	"github.com/raftkit/raftkit/readiness"
)

// Violation is one broken guarantee.
type Violation struct {
	// Kind names the checker: linearizability, acked-write-lost,
	// failed-write-applied, write-applied-twice, stale-read-regressed,
	// read-regressed, divergence, fsm-anomaly, ready-below-sync,
	// read-your-writes, no-recovery, restart-failed, close-hung,
	// removed-still-ready, backup-bad.
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// fsms returns each member's FSM now; nil for a member that is down.
func (r *run) fsms() []*FSM {
	out := make([]*FSM, len(r.slots))
	for i := range r.slots {
		if sl := r.slots[i].Load(); sl != nil {
			out[i] = sl.fsm
		}
	}
	return out
}

// checkWrites checks the writes of the history against every member's
// applied log: an acknowledged write sits at its index on every member; a
// write that failed (not indeterminate) appears nowhere; no write appears
// twice. It returns the number of writes it checked.
func checkWrites(ops []Op, fsms []*FSM, names func(int) string) (int, []Violation) {
	var out []Violation
	logs := make([]map[uint64]Entry, len(fsms))
	for i, f := range fsms {
		if f != nil {
			logs[i] = f.Log()
		}
	}
	checked := 0
	for _, op := range ops {
		if op.Kind != OpWrite {
			continue
		}
		want := Entry{Key: op.Key, Value: op.Value}
		switch op.Result {
		case OK:
			checked++
			for i, l := range logs {
				if l == nil {
					continue
				}
				if got, ok := l[op.Index]; !ok || got != want {
					out = append(out, Violation{Kind: "acked-write-lost", Detail: fmt.Sprintf(
						"%s holds %+v (present=%v) at index %d, where the acknowledged %s was committed", names(i), got, ok, op.Index, op)})
				}
			}
		case Failed:
			checked++
			for i, l := range logs {
				for idx, e := range l {
					if e == want {
						out = append(out, Violation{Kind: "failed-write-applied", Detail: fmt.Sprintf(
							"%s applied %+v at index %d, but Apply reported a definite failure: %s", names(i), e, idx, op)})
					}
				}
			}
		}
	}
	// No value is ever written twice by the workload, so a value that sits
	// at two indexes was committed twice: a retried forward.
	for i, l := range logs {
		seen := map[Entry]uint64{}
		for _, idx := range sortedIndexes(l) {
			e := l[idx]
			if first, dup := seen[e]; dup && e.Key != "final" {
				out = append(out, Violation{Kind: "write-applied-twice", Detail: fmt.Sprintf(
					"%s applied %+v at index %d and again at %d: the command was sent twice", names(i), e, first, idx)})
			}
			seen[e] = idx
		}
	}
	return checked, out
}

// checkConvergence checks that every member's FSM holds the same registers
// and the same applied history, and that none applied an entry twice.
func checkConvergence(fsms []*FSM, names func(int) string) []Violation {
	var out []Violation
	ref := -1
	for i, f := range fsms {
		if f == nil {
			continue
		}
		if a := f.Anomalies(); a != "" {
			out = append(out, Violation{Kind: "fsm-anomaly", Detail: names(i) + ": " + a})
		}
		if ref < 0 {
			ref = i
			continue
		}
		if f.Digest() != fsms[ref].Digest() {
			out = append(out, Violation{Kind: "divergence", Detail: fmt.Sprintf(
				"%s and %s hold different states after applying the same final index: %s",
				names(ref), names(i), describeDiff(fsms[ref], f))})
		}
	}
	return out
}

// describeDiff names the first indexes at which two FSMs' histories differ.
func describeDiff(a, b *FSM) string {
	la, lb := a.Log(), b.Log()
	idx := map[uint64]bool{}
	for i := range la {
		idx[i] = true
	}
	for i := range lb {
		idx[i] = true
	}
	var diffs []uint64
	for i := range idx {
		if la[i] != lb[i] {
			diffs = append(diffs, i)
		}
	}
	sort.Slice(diffs, func(i, j int) bool { return diffs[i] < diffs[j] })
	s := fmt.Sprintf("%d indexes differ; registers %v vs %v", len(diffs), a.Values(), b.Values())
	for k, i := range diffs {
		if k == 5 {
			break
		}
		s += fmt.Sprintf("; at %d: %+v vs %+v", i, la[i], lb[i])
	}
	return s
}

// staleCheck describes how Stale reads of one member may be compared.
type staleCheck struct {
	// crossCrash allows comparing reads across a crash: true with the
	// read fence, which promises monotonic reads across crashes too.
	crossCrash bool
	// stops[k] is how incarnation k ended: "crash", "clean", or
	// "removed" (the next incarnation starts from an empty Dir).
	stops []string
	// allLevels compares Strong and Lease reads too, with each other and
	// with Stale reads: the read fence promises that no read of any level
	// returns older state than an earlier read on the node. A regression
	// between two Stale reads is a stale-read-regressed violation; one
	// that involves a Strong or Lease read is read-regressed.
	allLevels bool
}

func (sc staleCheck) counts(op Op) bool {
	return op.Kind == OpStale || (sc.allLevels && (op.Kind == OpStrong || op.Kind == OpLease))
}

// checkStaleMonotonic checks that no Stale read on a member returned older
// state than a Stale read on the same member that had returned before it
// was called: within an incarnation always, across clean restarts always,
// and across crashes when sc.crossCrash. It compares both the index the
// library said the read was served at (ReadInfo.Index) and the index of
// the state the read really saw (DataIndex). It returns the number of
// pairs compared.
func checkStaleMonotonic(ops []Op, member int, sc staleCheck, name string) (int, []Violation) {
	var reads []Op
	for _, op := range ops {
		if sc.counts(op) && op.Result == OK && op.Node == member {
			reads = append(reads, op)
		}
	}
	crashBetween := func(from, to int) bool {
		for k := from; k < to && k < len(sc.stops); k++ {
			if sc.stops[k] == "crash" {
				return true
			}
		}
		return false
	}
	// A removed member comes back with an empty Dir: nothing is promised
	// across its removal.
	removedBetween := func(from, to int) bool {
		for k := from; k < to && k < len(sc.stops); k++ {
			if sc.stops[k] == "removed" {
				return true
			}
		}
		return false
	}
	// For each read, the earlier reads that returned before it was called:
	// keep them sorted by return time and sweep.
	byReturn := append([]Op(nil), reads...)
	sort.Slice(byReturn, func(i, j int) bool { return byReturn[i].Return < byReturn[j].Return })
	sort.Slice(reads, func(i, j int) bool { return reads[i].Call < reads[j].Call })
	var out []Violation
	pairs := 0
	// best[inc] is the read of incarnation inc with the highest DataIndex
	// (and bestInfo the highest Index) among those returned so far.
	best := map[int]Op{}
	bestInfo := map[int]Op{}
	next := 0
	for _, rd := range reads {
		for next < len(byReturn) && byReturn[next].Return < rd.Call {
			e := byReturn[next]
			if b, ok := best[e.Inc]; !ok || e.DataIndex > b.DataIndex {
				best[e.Inc] = e
			}
			if b, ok := bestInfo[e.Inc]; !ok || e.Index > b.Index {
				bestInfo[e.Inc] = e
			}
			next++
		}
		for inc, b := range best {
			if inc > rd.Inc || (!sc.crossCrash && crashBetween(inc, rd.Inc)) || removedBetween(inc, rd.Inc) {
				continue
			}
			pairs++
			if rd.DataIndex < b.DataIndex {
				out = append(out, Violation{Kind: regressedKind(b, rd), Detail: fmt.Sprintf(
					"%s served state at index %d after serving state at index %d (%s before %s; restarts between: %v)",
					name, rd.DataIndex, b.DataIndex, b, rd, stopsBetween(sc.stops, inc, rd.Inc))})
			}
			if bi := bestInfo[inc]; rd.Index < bi.Index {
				out = append(out, Violation{Kind: regressedKind(bi, rd), Detail: fmt.Sprintf(
					"%s reported a read served at index %d after one served at %d (%s before %s; restarts between: %v)",
					name, rd.Index, bi.Index, bi, rd, stopsBetween(sc.stops, inc, rd.Inc))})
			}
		}
	}
	return pairs, out
}

// regressedKind names the violation of read b after read a returned older
// state: stale-read-regressed between two Stale reads, read-regressed when
// a Strong or Lease read is involved.
func regressedKind(a, b Op) string {
	if a.Kind == OpStale && b.Kind == OpStale {
		return "stale-read-regressed"
	}
	return "read-regressed"
}

func stopsBetween(stops []string, from, to int) []string {
	if from >= to || from >= len(stops) {
		return nil
	}
	return stops[from:min(to, len(stops))]
}

// checkReadiness checks every readiness status a member reported: a Ready
// status must satisfy the readiness invariant, applied ≥ sync point.
func checkReadiness(statuses []memberStatus, names func(int) string) (int, []Violation) {
	var out []Violation
	ready := 0
	for _, ms := range statuses {
		if ms.status.State != readiness.Ready {
			continue
		}
		ready++
		if !ms.status.ReadyInvariantHolds() {
			out = append(out, Violation{Kind: "ready-below-sync", Detail: fmt.Sprintf(
				"%s reported Ready with applied %d below the sync point %d (commit %d, leader %q)",
				names(ms.member), ms.status.Applied, ms.status.SyncIndex, ms.status.CommitIndex, ms.status.LeaderID)})
		}
	}
	return ready, out
}

func sortedIndexes(l map[uint64]Entry) []uint64 {
	out := make([]uint64, 0, len(l))
	for i := range l {
		out = append(out, i)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
