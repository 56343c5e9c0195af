package main

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunLoadCountsOnlyTheMeasuredWindow(t *testing.T) {
	var calls atomic.Int64
	s := runLoad(context.Background(), 4, 30*time.Millisecond, 60*time.Millisecond, func(ctx context.Context, w, i int) error {
		calls.Add(1)
		time.Sleep(time.Millisecond) // the operation being timed
		return nil
	})
	if err := s.check(); err != nil {
		t.Fatal(err)
	}
	if s.Ops <= 0 || s.Ops >= calls.Load() {
		t.Fatalf("counted %d of %d calls: warm-up calls must not count", s.Ops, calls.Load())
	}
	if s.ElapsedNs != int64(60*time.Millisecond) {
		t.Fatalf("elapsed %v", time.Duration(s.ElapsedNs))
	}
	if s.P50Ns < int64(time.Millisecond) || s.P99Ns < s.P50Ns {
		t.Fatalf("p50 %v p99 %v", time.Duration(s.P50Ns), time.Duration(s.P99Ns))
	}
}

func TestRunLoadReportsErrors(t *testing.T) {
	boom := errors.New("boom")
	s := runLoad(context.Background(), 2, 0, 20*time.Millisecond, func(ctx context.Context, w, i int) error {
		if i%2 == 1 {
			return boom
		}
		return nil
	})
	if s.Errors == 0 || s.FirstError != "boom" {
		t.Fatalf("errors %d first %q", s.Errors, s.FirstError)
	}
	if err := s.check(); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("check = %v", err)
	}
	if err := (sample{ElapsedNs: 1}).check(); err == nil {
		t.Fatal("a run without operations passed the check")
	}
}

func TestQuantile(t *testing.T) {
	var v []time.Duration
	for i := 1; i <= 100; i++ {
		v = append(v, time.Duration(i))
	}
	if q := quantile(v, 0.5); q != 50 {
		t.Errorf("p50 = %d", q)
	}
	if q := quantile(v, 0.99); q != 99 {
		t.Errorf("p99 = %d", q)
	}
	if q := quantile(nil, 0.5); q != 0 {
		t.Errorf("empty = %d", q)
	}
}
