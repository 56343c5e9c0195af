package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// sample is what one load run measured: ops operations that started in a
// window of elapsed, with their latency quantiles. The etcd peer answers
// with the same fields (see internal/bench/etcdpeer).
type sample struct {
	Ops        int64  `json:"ops"`
	ElapsedNs  int64  `json:"elapsed_ns"`
	P50Ns      int64  `json:"p50_ns"`
	P99Ns      int64  `json:"p99_ns"`
	Errors     int64  `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
}

// throughput is operations per second.
func (s sample) throughput() float64 {
	if s.ElapsedNs <= 0 {
		return 0
	}
	return float64(s.Ops) / (float64(s.ElapsedNs) / 1e9)
}

// check turns a run with failed operations, or none at all, into an
// error: its figures would not mean what they claim.
func (s sample) check() error {
	switch {
	case s.Errors > 0:
		return fmt.Errorf("%d operations failed, first: %s", s.Errors, s.FirstError)
	case s.Ops == 0:
		return fmt.Errorf("no operation completed in %v", time.Duration(s.ElapsedNs))
	}
	return nil
}

// runLoad runs op from conc goroutines: first for warmup (not measured),
// then for dur. An operation counts when it started inside the measured
// window; its latency is recorded. op gets the worker number and the
// worker's operation count, to pick keys.
func runLoad(ctx context.Context, conc int, warmup, dur time.Duration, op func(ctx context.Context, worker, i int) error) sample {
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
	var s sample
	for _, o := range outs {
		all = append(all, o.lat...)
		s.Errors += o.errors
		if o.firstErr != nil && s.FirstError == "" {
			s.FirstError = o.firstErr.Error()
		}
	}
	slices.Sort(all)
	s.Ops = int64(len(all))
	s.ElapsedNs = int64(dur)
	s.P50Ns = int64(quantile(all, 0.50))
	s.P99Ns = int64(quantile(all, 0.99))
	return s
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
