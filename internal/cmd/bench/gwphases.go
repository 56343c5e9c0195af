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

// gwPhase is a named window of the load, [from, to) since it began. A
// phase may have several windows (phases interleaved in time).
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

// accountPhases assigns each record to the window that holds its start (a
// request straddling a boundary belongs to the window it started in; a
// record outside every window, the warm-up, counts nowhere) and computes
// each phase's figures over all its windows. Windows must not overlap; the
// result has one entry per phase name, in the order first seen.
func accountPhases(recs []gwRecord, phases []gwPhase) []gwPhaseResult {
	var out []gwPhaseResult
	of := make([]int, len(phases)) // window -> index in out
	for i, p := range phases {
		j := slices.IndexFunc(out, func(r gwPhaseResult) bool { return r.name == p.name })
		if j < 0 {
			j = len(out)
			out = append(out, gwPhaseResult{name: p.name})
		}
		of[i] = j
		out[j].window += p.to - p.from
	}
	lat := make([][]time.Duration, len(out))
	for _, r := range recs {
		w := slices.IndexFunc(phases, func(p gwPhase) bool { return r.at >= p.from && r.at < p.to })
		if w < 0 {
			continue
		}
		i := of[w]
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
