package main

import (
	"slices"
	"time"
)

// gwRecord is one proxied request of the gateway scenario's load: when it
// started (since the load began), how long it took, and whether it
// succeeded (a 200 from an upstream; anything else is a failure).
type gwRecord struct {
	at, took time.Duration
	ok       bool
}

// gwPhase is a named window of the load, [from, to) since it began.
type gwPhase struct {
	name     string
	from, to time.Duration
}

// gwPhaseResult is what one phase measured: the requests that started in
// its window, their outcome and the latency quantiles of the successful
// ones.
type gwPhaseResult struct {
	name     string
	window   time.Duration
	ok, fail int64
	p50, p99 time.Duration
}

// rate is successful requests per second of the window.
func (p gwPhaseResult) rate() float64 {
	if p.window <= 0 {
		return 0
	}
	return float64(p.ok) / p.window.Seconds()
}

// accountPhases assigns each record to the phase whose window holds its
// start (a request straddling a boundary belongs to the phase it started
// in; a record outside every window, the warm-up, counts nowhere) and
// computes each phase's figures. Phases must not overlap; the result is in
// the order of phases.
func accountPhases(recs []gwRecord, phases []gwPhase) []gwPhaseResult {
	out := make([]gwPhaseResult, len(phases))
	lat := make([][]time.Duration, len(phases))
	for i, p := range phases {
		out[i] = gwPhaseResult{name: p.name, window: p.to - p.from}
	}
	for _, r := range recs {
		i := slices.IndexFunc(phases, func(p gwPhase) bool { return r.at >= p.from && r.at < p.to })
		if i < 0 {
			continue
		}
		if !r.ok {
			out[i].fail++
			continue
		}
		out[i].ok++
		lat[i] = append(lat[i], r.took)
	}
	for i := range out {
		slices.Sort(lat[i])
		out[i].p50 = quantile(lat[i], 0.50)
		out[i].p99 = quantile(lat[i], 0.99)
	}
	return out
}
