package main

import (
	"cmp"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"
)

// kvInput is one operation on one key's register, as porcupine sees it.
type kvInput struct {
	write bool
	key   string
	value string // written
}

// kvModel is one register, "" (the route is absent) until written: a write
// sets it, a read must return it. Histories are split by key before they
// reach porcupine, so each check is one register.
var kvModel = porcupine.Model{
	Init: func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		in := input.(kvInput)
		if in.write {
			return true, in.value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output interface{}) string {
		in := input.(kvInput)
		if in.write {
			return fmt.Sprintf("write(%s, %q)", in.key, in.value)
		}
		return fmt.Sprintf("read(%s) -> %q", in.key, output.(string))
	},
	DescribeState: func(state interface{}) string { return fmt.Sprintf("%q", state.(string)) },
}

// porcupineHistory turns the operations of one key into porcupine's
// operations:
//   - an acknowledged write and a successful Strong or Lease read keep
//     their call and return times;
//   - an indeterminate write may have taken effect at any moment after its
//     call, or never: it gets an infinite return time, which is how
//     porcupine says "may or may not have happened";
//   - a failed write certainly did not happen and is left out (a read of
//     its value then has no write to explain it: a violation);
//   - failed reads, and Stale reads (not linearizable by design), are left
//     out.
//
// Each client's operations after an indeterminate one get a fresh
// porcupine client ID (as Jepsen gives a crashed process a new one), so
// that a client never has two open operations in the visualization.
func porcupineHistory(ops []Op) []porcupine.Operation {
	type proc struct{ client, epoch int }
	ids := map[proc]int{}
	epoch := map[int]int{}
	var out []porcupine.Operation
	for _, op := range ops {
		var in kvInput
		var output interface{}
		ret := op.Return
		switch {
		case op.Kind == KindWrite && op.Result == OK:
			in = kvInput{write: true, key: op.Key, value: op.Value}
		case op.Kind == KindWrite && op.Result == Indeterminate:
			in = kvInput{write: true, key: op.Key, value: op.Value}
			ret = math.MaxInt64
		case (op.Kind == KindStrong || op.Kind == KindLease) && op.Result == OK:
			in = kvInput{key: op.Key}
			output = op.Value
		default:
			continue
		}
		client := op.Client
		if op.Final {
			client = -1 - op.Node // one reader per node for the final reads
		}
		p := proc{client, epoch[client]}
		id, ok := ids[p]
		if !ok {
			id = len(ids)
			ids[p] = id
		}
		if ret == math.MaxInt64 {
			epoch[client]++
		}
		out = append(out, porcupine.Operation{ClientId: id, Input: in, Call: op.Call, Output: output, Return: ret, Metadata: op.ID})
	}
	return out
}

// linearizability is the verdict on every key's history.
type linearizability struct {
	Keys           int      `json:"keys"`
	Ops            int      `json:"ops"` // operations given to porcupine
	Illegal        []string `json:"illegal"`
	Unknown        []string `json:"unknown"` // keys whose check ran out of time
	Visualizations []string `json:"visualizations,omitempty"`
}

// maxVisualizations bounds the HTML files written for illegal keys.
const maxVisualizations = 10

// checkLinearizable checks each key's history with porcupine within
// timeout in all: each key gets an equal share of what is left, at least
// 5 s. For an illegal key, a visualization is written to outDir.
func checkLinearizable(ops []Op, timeout time.Duration, outDir string) linearizability {
	byKey := map[string][]Op{}
	for _, op := range ops {
		byKey[op.Key] = append(byKey[op.Key], op)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	res := linearizability{Keys: len(keys), Illegal: []string{}, Unknown: []string{}}
	deadline := time.Now().Add(timeout)
	for i, k := range keys {
		h := porcupineHistory(byKey[k])
		res.Ops += len(h)
		left := time.Until(deadline)
		share := max(left/time.Duration(len(keys)-i), 5*time.Second)
		if share > left {
			share = left
		}
		if share <= 0 {
			res.Unknown = append(res.Unknown, k)
			continue
		}
		verdict, info := porcupine.CheckOperationsVerbose(kvModel, h, share)
		switch verdict {
		case porcupine.Illegal:
			res.Illegal = append(res.Illegal, k)
			if outDir != "" && len(res.Visualizations) < maxVisualizations {
				path := filepath.Join(outDir, "linearizability-"+k+".html")
				if err := porcupine.VisualizePath(kvModel, info, path); err == nil {
					res.Visualizations = append(res.Visualizations, path)
				} else {
					fmt.Fprintf(os.Stderr, "proccampaign: visualization of %s: %v\n", k, err)
				}
			}
		case porcupine.Unknown:
			res.Unknown = append(res.Unknown, k)
		}
	}
	return res
}

// fenceViolation is a read that saw an older version of a key than an
// earlier read on the same node had seen.
type fenceViolation struct {
	Node    int `json:"node"`
	Earlier Op  `json:"earlier"`
	Later   Op  `json:"later"`
}

// maxRecorded bounds the examples a summary lists per check.
const maxRecorded = 50

// checkFence checks that no successful read, at any level, on a node saw
// an older version of its key (a lower modified_index, 0 when absent) than
// a read on the same node that returned before it was called — across the
// node's restarts too, since the node keeps its directory. It returns how
// many reads had an earlier read to compare with, and the violations.
func checkFence(ops []Op) (compared int, violations int, examples []fenceViolation) {
	type nk struct {
		node int
		key  string
	}
	groups := map[nk][]Op{}
	for _, op := range ops {
		if op.Kind != KindWrite && op.Result == OK {
			groups[nk{op.Node, op.Key}] = append(groups[nk{op.Node, op.Key}], op)
		}
	}
	for g, reads := range groups {
		byReturn := slices.Clone(reads)
		slices.SortFunc(byReturn, func(a, b Op) int { return cmp.Compare(a.Return, b.Return) })
		slices.SortFunc(reads, func(a, b Op) int { return cmp.Compare(a.Call, b.Call) })
		var newest *Op // the newest version seen by a read that returned before the current call
		j := 0
		for _, r := range reads {
			for j < len(byReturn) && byReturn[j].Return < r.Call {
				if newest == nil || byReturn[j].Modified > newest.Modified {
					newest = &byReturn[j]
				}
				j++
			}
			if newest == nil {
				continue
			}
			compared++
			if r.Modified < newest.Modified {
				violations++
				if len(examples) < maxRecorded {
					examples = append(examples, fenceViolation{Node: g.node, Earlier: *newest, Later: r})
				}
			}
		}
	}
	return compared, violations, examples
}

// version is a key's state on one node.
type version struct {
	Value    string `json:"value"`
	Modified uint64 `json:"modified"`
}

// writeCheck is the verdict on the writes against the nodes' final states.
type writeCheck struct {
	Acked int `json:"acked"` // acknowledged writes checked
	// Lost counts acknowledged writes that no node's final state reflects
	// (the key absent, or last modified before the write's index).
	Lost int `json:"lost"`
	// Partial counts acknowledged writes some nodes reflect and others not.
	Partial int `json:"partial"`
	// FailedApplied counts writes answered as failed whose value is some
	// node's final value of the key.
	FailedApplied int  `json:"failed_applied"`
	Examples      []Op `json:"examples,omitempty"`
}

// checkWrites checks every acknowledged write against final, one map of
// key to version per node: a node reflects the write when it holds the key
// at a modified index no lower than the write's index.
func checkWrites(ops []Op, final []map[string]version) writeCheck {
	var wc writeCheck
	for _, op := range ops {
		if op.Kind != KindWrite {
			continue
		}
		switch op.Result {
		case OK:
			wc.Acked++
			have := 0
			for _, f := range final {
				if v, ok := f[op.Key]; ok && v.Modified >= op.Index {
					have++
				}
			}
			switch {
			case have == 0:
				wc.Lost++
			case have < len(final):
				wc.Partial++
			default:
				continue
			}
		case Failed:
			applied := false
			for _, f := range final {
				if v, ok := f[op.Key]; ok && v.Value == op.Value {
					applied = true
				}
			}
			if !applied {
				continue
			}
			wc.FailedApplied++
		default:
			continue
		}
		if len(wc.Examples) < maxRecorded {
			wc.Examples = append(wc.Examples, op)
		}
	}
	return wc
}

// levelMismatches counts successful reads answered at another level than
// the one asked for.
func levelMismatches(ops []Op) (n int, examples []Op) {
	for _, op := range ops {
		if op.Kind == KindWrite || op.Result != OK || op.Level == string(op.Kind) {
			continue
		}
		n++
		if len(examples) < maxRecorded {
			examples = append(examples, op)
		}
	}
	return n, examples
}
