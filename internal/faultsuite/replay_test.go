package faultsuite

import "testing"

// TestReplay runs the schedule of -faultsuite.seed, as printed by a failing
// run. Without the flag it is skipped.
func TestReplay(t *testing.T) {
	if *flagSeed == 0 {
		t.Skip("set -faultsuite.seed to replay a schedule")
	}
	s := Generate(*flagSeed)
	t.Log(s)
	res := Run(t, s, Options{OutDir: *flagOut})
	for _, n := range res.Notes {
		t.Log(n)
	}
}
