package faultsuite

import (
	"fmt"
	"testing"
)

// ciSeeds are the schedules every `go test` runs: together they inject
// every fault kind at least once (TestCISeedsCoverEveryKind holds them to
// that), on 3-voter clusters with fault windows under 3.5s, so that the set
// stays within a couple of minutes under -race on two cores.
var ciSeeds = []int64{94, 39, 73, 63, 23}

// TestSchedules runs the CI set of schedules. A failure prints the seed
// and the command that replays it.
func TestSchedules(t *testing.T) {
	for _, seed := range ciSeeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			Run(t, Generate(seed), Options{OutDir: *flagOut})
		})
	}
}

// regressionSeeds are campaign schedules that found a violation, kept so
// that the fix stays fixed (docs/ROBUSTNESS.md, "Findings"). Their
// failures depend on timing, so a pass is evidence, not proof; the
// targeted tests named below reproduce them more reliably.
var regressionSeeds = map[int64]string{
	1033: "replication wedged and Close hung in raft's AppendEntries pipeline (TestFollowerDiskFaultsDoNotWedgeReplication)",
	1007: "data race between Open setting the node's raft and the RPC server reading it",
	1238: "Stale read after a crash with the read fence older than one served before it (TestReadFenceCoversWhatReadsSaw)",
}

// TestRegressionSchedules replays the schedules that found violations.
func TestRegressionSchedules(t *testing.T) {
	for _, seed := range []int64{1033, 1007, 1238} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Logf("found: %s", regressionSeeds[seed])
			Run(t, Generate(seed), Options{OutDir: *flagOut})
		})
	}
}

func TestCISeedsCoverEveryKind(t *testing.T) {
	covered := map[Kind]bool{}
	for _, seed := range ciSeeds {
		for k := range Generate(seed).Counts() {
			covered[k] = true
		}
	}
	for _, k := range Kinds() {
		if !covered[k] {
			t.Errorf("no CI schedule injects %s; pick seeds that cover it", k)
		}
	}
}
