package faultsuite

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/anishathalye/porcupine"
)

// registerInput is one operation on one register, as porcupine sees it.
type registerInput struct {
	write bool
	key   string
	value string // written
}

// registerModel is a register per key, "" until written: a write sets it,
// a read must return it. The history is partitioned by key, so each
// partition is one register.
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(registerInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		in := input.(registerInput)
		if in.write {
			return true, in.value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output interface{}) string {
		in := input.(registerInput)
		if in.write {
			return fmt.Sprintf("write(%s, %q)", in.key, in.value)
		}
		return fmt.Sprintf("read(%s) -> %q", in.key, output.(string))
	},
	DescribeState: func(state interface{}) string { return fmt.Sprintf("%q", state.(string)) },
}

// linearizability is the verdict on the Strong and Lease reads and the
// writes of a history.
type linearizability struct {
	result  porcupine.CheckResult
	ops     int    // operations checked
	visPath string // visualization written for an illegal history
}

// checkLinearizable checks the Strong and Lease reads and the writes of
// ops against registerModel. Acknowledged writes and successful reads take
// their real call and return times; an indeterminate write may have taken
// effect at any time after its call, so it gets an infinite return time
// (porcupine's way to say "may or may not have happened"); a write that
// failed is, by the library's contract, certain not to have happened and is
// left out (checkWrites verifies that it indeed never appears). Stale reads
// are not linearizable by design and are left out. When the history is
// illegal and outDir is set, a visualization is written there.
func checkLinearizable(ops []Op, timeout time.Duration, outDir string, seed int64) linearizability {
	var history []porcupine.Operation
	for _, op := range ops {
		var in registerInput
		ret := op.Return
		switch {
		case op.Kind == OpWrite && op.Result == OK:
			in = registerInput{write: true, key: op.Key, value: op.Value}
		case op.Kind == OpWrite && op.Result == Indeterminate:
			in = registerInput{write: true, key: op.Key, value: op.Value}
			ret = math.MaxInt64
		case (op.Kind == OpStrong || op.Kind == OpLease) && op.Result == OK:
			in = registerInput{key: op.Key}
		default:
			continue
		}
		out := interface{}(op.Value)
		if in.write {
			out = ""
		}
		history = append(history, porcupine.Operation{ClientId: op.Client, Input: in, Call: op.Call, Output: out, Return: ret, Metadata: op.ID})
	}
	res, info := porcupine.CheckOperationsVerbose(registerModel, history, timeout)
	l := linearizability{result: res, ops: len(history)}
	if res == porcupine.Illegal && outDir != "" {
		if err := os.MkdirAll(outDir, 0o755); err == nil {
			path := filepath.Join(outDir, fmt.Sprintf("seed-%d-linearizability.html", seed))
			if err := porcupine.VisualizePath(registerModel, info, path); err == nil {
				l.visPath = path
			}
		}
	}
	return l
}
