package main

import (
	"context"
	"slices"
	"sync"
	"time"
)

// runLoad runs op from conc goroutines: first for warmup (not measured),
// then for dur. An operation counts when it started inside the measured
// window; its latency is recorded. op gets the worker number and the
// worker's operation count, to pick keys.
func runLoad(ctx context.Context, conc int, warmup, dur time.Duration, op func(ctx context.Context, worker, i int) error) Result {
	start := time.Now()
	measureFrom := start.Add(warmup)
	measureTo := measureFrom.Add(dur)

	type workerOut struct {
		lat      []time.Duration
		errors   int64
		firstErr error
	}
	outs := make([]workerOut, conc)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := &outs[w]
			o.lat = make([]time.Duration, 0, 1024)
			for i := 0; ; i++ {
				t0 := time.Now()
				if !t0.Before(measureTo) || ctx.Err() != nil {
					return
				}
				err := op(ctx, w, i)
				if t0.Before(measureFrom) {
					continue
				}
				if err != nil {
					o.errors++
					if o.firstErr == nil {
						o.firstErr = err
					}
					continue
				}
				o.lat = append(o.lat, time.Since(t0))
			}
		}()
	}
	wg.Wait()

	var all []time.Duration
	var res Result
	for _, o := range outs {
		all = append(all, o.lat...)
		res.Errors += o.errors
		if o.firstErr != nil && res.FirstError == "" {
			res.FirstError = o.firstErr.Error()
		}
	}
	slices.Sort(all)
	res.Ops = int64(len(all))
	res.ElapsedNs = int64(dur)
	res.P50Ns = int64(quantile(all, 0.50))
	res.P99Ns = int64(quantile(all, 0.99))
	return res
}

// quantile returns the q-quantile of sorted (nearest rank), 0 when empty.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}
