package faultsuite

import (
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/readiness"
)

func w(id int, value string, call, ret int64, res Outcome) Op {
	return Op{ID: id, Kind: OpWrite, Key: "k", Value: value, Call: call, Return: ret, Result: res}
}

func rd(id int, kind OpKind, value string, call, ret int64) Op {
	return Op{ID: id, Kind: kind, Key: "k", Value: value, Call: call, Return: ret, Result: OK}
}

func TestLinearizabilityChecker(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  []Op
		want porcupine.CheckResult
	}{
		{"read of the latest write", []Op{w(0, "a", 0, 10, OK), w(1, "b", 20, 30, OK), rd(2, OpStrong, "b", 40, 50)}, porcupine.Ok},
		{"stale Strong read", []Op{w(0, "a", 0, 10, OK), w(1, "b", 20, 30, OK), rd(2, OpStrong, "a", 40, 50)}, porcupine.Illegal},
		{"stale Lease read", []Op{w(0, "a", 0, 10, OK), w(1, "b", 20, 30, OK), rd(2, OpLease, "a", 40, 50)}, porcupine.Illegal},
		{"read concurrent with a write may see either", []Op{w(0, "a", 0, 10, OK), w(1, "b", 20, 60, OK), rd(2, OpStrong, "a", 40, 50)}, porcupine.Ok},
		{"initial value is empty", []Op{rd(0, OpStrong, "", 0, 5), w(1, "a", 10, 20, OK)}, porcupine.Ok},
		{"value nobody wrote", []Op{w(0, "a", 0, 10, OK), rd(1, OpStrong, "zzz", 20, 30)}, porcupine.Illegal},
		{"Stale reads are not checked", []Op{w(0, "a", 0, 10, OK), w(1, "b", 20, 30, OK), rd(2, OpStale, "a", 40, 50)}, porcupine.Ok},
		// An indeterminate write may take effect at any time after its call,
		// even long after its call returned...
		{"indeterminate write seen later", []Op{w(0, "a", 0, 10, OK), w(1, "b", 20, 25, Indeterminate), rd(2, OpStrong, "a", 30, 40), rd(3, OpStrong, "b", 50, 60)}, porcupine.Ok},
		// ...or never...
		{"indeterminate write never seen", []Op{w(0, "a", 0, 10, OK), w(1, "b", 20, 25, Indeterminate), rd(2, OpStrong, "a", 30, 40)}, porcupine.Ok},
		// ...but once seen it cannot be unseen.
		{"indeterminate write seen then lost", []Op{w(0, "a", 0, 10, OK), w(1, "b", 20, 25, Indeterminate), rd(2, OpStrong, "b", 30, 40), rd(3, OpStrong, "a", 50, 60)}, porcupine.Illegal},
		// A write that failed definitely is certain not to have happened.
		{"failed write seen", []Op{w(0, "a", 0, 10, OK), w(1, "b", 20, 25, Failed), rd(2, OpStrong, "b", 30, 40)}, porcupine.Illegal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkLinearizable(tc.ops, 10*time.Second, "", 0)
			if got.result != tc.want {
				t.Fatalf("got %s, want %s", got.result, tc.want)
			}
		})
	}
}

func TestLinearizabilityCheckerPartitionsByKey(t *testing.T) {
	ops := []Op{
		{Kind: OpWrite, Key: "x", Value: "1", Call: 0, Return: 10, Result: OK},
		{Kind: OpWrite, Key: "y", Value: "2", Call: 0, Return: 10, Result: OK},
		{Kind: OpStrong, Key: "x", Value: "1", Call: 20, Return: 30, Result: OK},
		{Kind: OpStrong, Key: "y", Value: "1", Call: 20, Return: 30, Result: OK}, // y never held 1
	}
	if got := checkLinearizable(ops, 10*time.Second, "", 0); got.result != porcupine.Illegal {
		t.Fatalf("got %s, want Illegal: a value of one key read from another", got.result)
	}
}

func TestLinearizabilityCheckerWritesAVisualization(t *testing.T) {
	dir := t.TempDir()
	ops := []Op{w(0, "a", 0, 10, OK), w(1, "b", 20, 30, OK), rd(2, OpStrong, "a", 40, 50)}
	got := checkLinearizable(ops, 10*time.Second, dir, 42)
	if got.visPath == "" || !strings.HasPrefix(got.visPath, dir) {
		t.Fatalf("visualization path %q, want one in %s", got.visPath, dir)
	}
}

// fsmWith returns an FSM that applied entries at the given indexes.
func fsmWith(entries map[uint64]Entry) *FSM {
	f := NewFSM()
	for _, i := range sortedIndexes(entries) {
		f.Apply(&raft.Log{Index: i, Type: raft.LogCommand, Data: WriteCommand(entries[i].Key, entries[i].Value)})
	}
	return f
}

func name(i int) string { return []string{"n0", "n1", "n2"}[i] }

func kinds(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Kind)
	}
	return out
}

func TestCheckWrites(t *testing.T) {
	a, b := Entry{"k", "a"}, Entry{"k", "b"}
	acked := Op{Kind: OpWrite, Key: "k", Value: "a", Index: 5, Result: OK}
	failed := Op{Kind: OpWrite, Key: "k", Value: "b", Result: Failed}
	indet := Op{Kind: OpWrite, Key: "k", Value: "b", Result: Indeterminate}
	for _, tc := range []struct {
		name string
		ops  []Op
		fsms []*FSM
		want []string
	}{
		{"acked everywhere", []Op{acked}, []*FSM{fsmWith(map[uint64]Entry{5: a}), fsmWith(map[uint64]Entry{5: a})}, nil},
		{"acked write missing on one member", []Op{acked}, []*FSM{fsmWith(map[uint64]Entry{5: a}), fsmWith(map[uint64]Entry{4: a})}, []string{"acked-write-lost"}},
		{"other entry at the acked index", []Op{acked}, []*FSM{fsmWith(map[uint64]Entry{5: b})}, []string{"acked-write-lost"}},
		{"failed write applied", []Op{failed}, []*FSM{fsmWith(map[uint64]Entry{7: b})}, []string{"failed-write-applied"}},
		{"indeterminate write applied", []Op{indet}, []*FSM{fsmWith(map[uint64]Entry{7: b})}, nil},
		{"write applied twice", nil, []*FSM{fsmWith(map[uint64]Entry{7: b, 9: b})}, []string{"write-applied-twice"}},
		{"down member skipped", []Op{acked}, []*FSM{fsmWith(map[uint64]Entry{5: a}), nil}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, vs := checkWrites(tc.ops, tc.fsms, name)
			if got := strings.Join(kinds(vs), ","); got != strings.Join(tc.want, ",") {
				t.Fatalf("violations %v, want %v", vs, tc.want)
			}
		})
	}
}

func TestCheckConvergence(t *testing.T) {
	same := map[uint64]Entry{3: {"k", "a"}, 4: {"j", "b"}}
	if vs := checkConvergence([]*FSM{fsmWith(same), fsmWith(same), nil}, name); len(vs) != 0 {
		t.Fatalf("equal FSMs: %v", vs)
	}
	other := map[uint64]Entry{3: {"k", "a"}, 4: {"j", "c"}}
	vs := checkConvergence([]*FSM{fsmWith(same), fsmWith(other)}, name)
	if len(vs) != 1 || vs[0].Kind != "divergence" || !strings.Contains(vs[0].Detail, "at 4") {
		t.Fatalf("diverging FSMs: %v, want one divergence naming index 4", vs)
	}
	twice := fsmWith(same)
	twice.Apply(&raft.Log{Index: 4, Data: WriteCommand("j", "b")})
	if vs := checkConvergence([]*FSM{twice}, name); len(vs) != 1 || vs[0].Kind != "fsm-anomaly" {
		t.Fatalf("entry applied twice: %v, want an fsm-anomaly", vs)
	}
}

func stale(inc int, data uint64, call, ret int64) Op {
	return Op{Kind: OpStale, Node: 0, Inc: inc, Index: data, DataIndex: data, Call: call, Return: ret, Result: OK}
}

func TestCheckStaleMonotonic(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ops   []Op
		sc    staleCheck
		wants bool
	}{
		{"rising", []Op{stale(0, 5, 0, 10), stale(0, 7, 20, 30)}, staleCheck{}, false},
		{"regressed in one run", []Op{stale(0, 7, 0, 10), stale(0, 5, 20, 30)}, staleCheck{}, true},
		{"overlapping reads are not ordered", []Op{stale(0, 7, 0, 30), stale(0, 5, 20, 40)}, staleCheck{}, false},
		{"regressed across a clean restart", []Op{stale(0, 7, 0, 10), stale(1, 5, 20, 30)}, staleCheck{stops: []string{"clean"}}, true},
		{"regressed across a crash without the fence", []Op{stale(0, 7, 0, 10), stale(1, 5, 20, 30)}, staleCheck{stops: []string{"crash"}}, false},
		{"regressed across a crash with the fence", []Op{stale(0, 7, 0, 10), stale(1, 5, 20, 30)}, staleCheck{crossCrash: true, stops: []string{"crash"}}, true},
		{"crash then clean restart, no fence", []Op{stale(0, 7, 0, 10), stale(2, 5, 20, 30)}, staleCheck{stops: []string{"crash", "clean"}}, false},
		{"other members' reads ignored", []Op{stale(0, 7, 0, 10), {Kind: OpStale, Node: 1, DataIndex: 1, Call: 20, Return: 30, Result: OK}}, staleCheck{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, vs := checkStaleMonotonic(tc.ops, 0, tc.sc, "n0")
			if got := len(vs) > 0; got != tc.wants {
				t.Fatalf("violations %v, want some: %v", vs, tc.wants)
			}
		})
	}
	// The index the library reported and the state the read saw are
	// checked apart: a read served "at" a high index that saw a low state
	// is caught by the second.
	ops := []Op{
		{Kind: OpStale, Index: 5, DataIndex: 9, Call: 0, Return: 10, Result: OK},
		{Kind: OpStale, Inc: 1, Index: 6, DataIndex: 6, Call: 20, Return: 30, Result: OK},
	}
	_, vs := checkStaleMonotonic(ops, 0, staleCheck{crossCrash: true, stops: []string{"crash"}}, "n0")
	if len(vs) != 1 || !strings.Contains(vs[0].Detail, "served state at index 6 after serving state at index 9") {
		t.Fatalf("data regression: %v", vs)
	}
}

// TestCheckReadsAcrossLevels: with allLevels, a Strong or Lease read is
// compared with the Stale reads and with each other, and a regression that
// involves one is read-regressed; without it they are not compared.
func TestCheckReadsAcrossLevels(t *testing.T) {
	strong := stale(0, 7, 0, 10)
	strong.Kind = OpStrong
	lease := stale(1, 6, 40, 50)
	lease.Kind = OpLease
	fence := staleCheck{crossCrash: true, stops: []string{"crash"}, allLevels: true}
	_, vs := checkStaleMonotonic([]Op{strong, stale(1, 5, 20, 30)}, 0, fence, "n0")
	if len(vs) == 0 || vs[0].Kind != "read-regressed" {
		t.Fatalf("Strong read at 7, then after a crash a Stale read at 5, with the fence: violations %v, want read-regressed", vs)
	}
	_, vs = checkStaleMonotonic([]Op{strong, lease}, 0, fence, "n0")
	if len(vs) == 0 || vs[0].Kind != "read-regressed" {
		t.Fatalf("Strong read at 7, then after a crash a Lease read at 6, with the fence: violations %v, want read-regressed", vs)
	}
	noFence := fence
	noFence.crossCrash = false
	if _, vs := checkStaleMonotonic([]Op{strong, stale(1, 5, 20, 30)}, 0, noFence, "n0"); len(vs) != 0 {
		t.Fatalf("without the fence a crash may lose state: violations %v, want none", vs)
	}
	stalesOnly := fence
	stalesOnly.allLevels = false
	if _, vs := checkStaleMonotonic([]Op{strong, stale(1, 5, 20, 30)}, 0, stalesOnly, "n0"); len(vs) != 0 {
		t.Fatalf("Stale reads only: violations %v, want none", vs)
	}
}

func TestCheckReadiness(t *testing.T) {
	good := readiness.Status{State: readiness.Ready, Applied: 10, SyncIndex: 10}
	bad := readiness.Status{State: readiness.Ready, Applied: 9, SyncIndex: 10}
	notReady := readiness.Status{State: readiness.CatchingUp, Applied: 1, SyncIndex: 10}
	n, vs := checkReadiness([]memberStatus{{0, good}, {1, notReady}, {2, bad}}, name)
	if n != 2 || len(vs) != 1 || vs[0].Kind != "ready-below-sync" || !strings.Contains(vs[0].Detail, "n2") {
		t.Fatalf("checked %d, violations %v; want 2 Ready statuses and one violation on n2", n, vs)
	}
}
