package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"
	"time"
)

// TestAccountPhases checks the phase accounting: a request belongs to the
// window it started in (even when it ends in the next), a phase's windows
// add up, warm-up, gaps and trailing requests count nowhere, failures are
// counted but kept out of the latency quantiles, and the rate is per
// second of the phase's windows.
func TestAccountPhases(t *testing.T) {
	ms := time.Millisecond
	var recs []gwRecord
	// Warm-up, before every window: ignored.
	recs = append(recs, gwRecord{at: 5 * ms, took: time.Second, ok: false})
	// steady [100ms, 150ms) and [200ms, 250ms): 100 requests of 1..100 ms
	// spread over both windows, all fine.
	for i := 1; i <= 100; i++ {
		at := 100*ms + time.Duration(i-1)*ms/2 // 100ms .. 149.5ms
		if i%2 == 0 {
			at += 100 * ms // 200ms .. 249.5ms
		}
		recs = append(recs, gwRecord{at: at, took: time.Duration(i) * ms, ok: true})
	}
	// churn [150ms, 200ms) and [250ms, 300ms): 10 fine requests of 7 ms,
	// one starting at 299ms that ends long after, and 3 failures (which
	// would be the slowest if they counted).
	for i := 0; i < 10; i++ {
		recs = append(recs, gwRecord{at: 150*ms + time.Duration(i)*ms, took: 7 * ms, ok: true})
	}
	recs = append(recs, gwRecord{at: 299 * ms, took: 8 * ms, ok: true})
	for i := 0; i < 3; i++ {
		recs = append(recs, gwRecord{at: 260 * ms, took: 5 * time.Second, ok: false})
	}
	// A gap [300ms, 400ms) belongs to no phase; failover [400ms, 600ms)
	// holds nothing.
	recs = append(recs, gwRecord{at: 350 * ms, took: ms, ok: false})
	// After the last window: ignored.
	recs = append(recs, gwRecord{at: 600 * ms, took: ms, ok: false})

	got := accountPhases(recs, []gwPhase{
		{"steady", 100 * ms, 150 * ms},
		{"churn", 150 * ms, 200 * ms},
		{"steady", 200 * ms, 250 * ms},
		{"churn", 250 * ms, 300 * ms},
		{"failover", 400 * ms, 600 * ms},
	})
	want := []gwPhaseResult{
		{name: "steady", window: 100 * ms, ok: 100, fail: 0, p50: 50 * ms, p99: 99 * ms},
		{name: "churn", window: 100 * ms, ok: 11, fail: 3, p50: 7 * ms, p99: 8 * ms},
		{name: "failover", window: 200 * ms, ok: 0, fail: 0},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d phases (%+v), want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("phase %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if r := got[0].rate(); r != 1000 {
		t.Errorf("steady rate %v, want 1000/s (100 ok in 100ms of windows)", r)
	}
	if r := got[2].rate(); r != 0 {
		t.Errorf("empty phase rate %v, want 0", r)
	}
}

// TestGatewayTargets checks the goals' verdicts from recorded figures: the
// p99 ratio on medians, and counts on the worst repetition.
func TestGatewayTargets(t *testing.T) {
	r := testRunner(t, options{})
	add := func(sc string, vs ...float64) {
		for _, v := range vs {
			r.figs.add(sc, "raftkit", "x", v)
		}
	}
	add("gateway.steady.p99", 10, 10, 10)
	add("gateway.churn.p99", 10.5, 30, 10.9) // median 10.9: met
	add("gateway.failover.failed", 0, 2, 0)  // worst 2: missed
	add("gateway.table.builds-per-node", 1, 1, 1)
	add("gateway.table.rebuilds-under-load", 0, 0, 0)
	add("gateway.table.swaps-churn-per-node", 300, 0, 280) // a rep with none: missed
	met := map[string]bool{}
	for _, tg := range r.gatewayTargets() {
		met[tg.name] = tg.met
	}
	want := map[string]bool{
		"gateway: p99 churn / p99 steady":                        true,
		"gateway: failed proxied requests across the failover":   false,
		"gateway: full table builds per node (the one at ready)": true,
		"gateway: full table rebuilds under load":                true,
		"gateway: per-route swaps per node in churn":             false,
	}
	if fmt.Sprint(met) != fmt.Sprint(want) {
		t.Errorf("targets %v, want %v", met, want)
	}
}

// TestGatewayQuick runs the quick gateway scenario once, end to end: real
// gateway processes, the three phases, and every figure recorded with no
// failed proxied request outside the failover's own check.
func TestGatewayQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three gateway processes")
	}
	r := testRunner(t, options{duration: 200 * time.Millisecond, warmup: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := r.gateway(ctx); err != nil {
		t.Fatal(err)
	}
	if len(r.failures) > 0 {
		t.Fatalf("gateway scenario failed: %v", r.failures)
	}
	for _, sc := range []string{
		"gateway.steady.tput", "gateway.steady.p99", "gateway.churn.tput", "gateway.churn.p99",
		"gateway.failover.tput", "gateway.failover.failed", "gateway.churn.changes", "gateway.failover.elected",
		"gateway.table.builds-per-node", "gateway.table.rebuilds-under-load", "gateway.table.swaps-churn-per-node",
	} {
		if r.figs.get(sc, "raftkit") == nil {
			t.Errorf("no figure %s", sc)
		}
	}
	for _, ph := range []string{"steady", "churn", "failover"} {
		if f := r.figs.get("gateway."+ph+".tput", "raftkit"); f != nil && f.median() == 0 {
			t.Errorf("%s phase served nothing", ph)
		}
	}
	if f := r.figs.get("gateway.table.builds-per-node", "raftkit"); f != nil && f.max() < 1 {
		t.Errorf("the proxies report %v full builds: the counter does not count the build at ready", f.max())
	}
	if f := r.figs.get("gateway.table.swaps-churn-per-node", "raftkit"); f != nil && f.min() == 0 {
		t.Error("no per-route swap counted during the churn phase")
	}
	// The churn's cost in CPU, where /proc is there to measure it: a
	// change costs the gateways some CPU (a raft commit on every node).
	if _, ok := processCPU(os.Getpid()); ok {
		for _, sc := range []string{"gateway.churn.cpu-per-change", "gateway.churn.driver-cpu-per-change"} {
			if f := r.figs.get(sc, "raftkit"); f == nil {
				t.Errorf("no figure %s", sc)
			}
		}
		if f := r.figs.get("gateway.churn.cpu-per-change", "raftkit"); f != nil && f.median() <= 0 {
			t.Errorf("a route change cost the gateways %v ms of CPU: the cost window measured nothing", f.median())
		}
	}
}

// TestGatewayInDefaultRun checks that the full run and the quick run (CI)
// both include the gateway scenario.
func TestGatewayInDefaultRun(t *testing.T) {
	for _, args := range [][]string{nil, {"-quick"}} {
		o, err := parseFlags(args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if !o.has("gateway") {
			t.Errorf("bench %v does not run the gateway scenario: %v", args, o.scenarios)
		}
	}
}
