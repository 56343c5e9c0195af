package faultsuite

import (
	"fmt"
	"os"
	"testing"
)

// TestCampaign runs -faultsuite.campaign schedules with consecutive seeds
// from -faultsuite.first, each as a subtest, and appends one JSON line per
// schedule to -faultsuite.results. Without the flag it is skipped; run it
// through cmd/campaign, which also survives a crashed or hung batch.
func TestCampaign(t *testing.T) {
	if *flagCampaign <= 0 {
		t.Skip("set -faultsuite.campaign (or use go run ./internal/faultsuite/cmd/campaign)")
	}
	var out *os.File
	if *flagResults != "" {
		f, err := os.OpenFile(*flagResults, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		out = f
	}
	for k := range *flagCampaign {
		seed := *flagFirst + int64(k)
		var res Result
		passed := t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			res = Run(t, Generate(seed), Options{OutDir: *flagOut})
		})
		// The subtest can fail beyond the checkers' violations: a data race
		// the race detector caught, or an error from the cluster helpers.
		res.TestFailed = !passed
		if res.Seed == 0 {
			res.Seed = seed // Run did not return (t.Fatal in the cluster's start)
		}
		if out != nil {
			if _, err := out.Write(append(res.JSON(), '\n')); err != nil {
				t.Fatalf("writing results: %v", err)
			}
		}
	}
}
