package quorum

import (
	"sync"
	"testing"
	"time"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/clock"
)

var leaseEpoch = time.Unix(10_000, 0)

func TestLeaseGrantExtendsNeverShortens(t *testing.T) {
	clk := clock.NewFake(leaseEpoch)
	l := NewLease(clk)
	if l.Valid(1) {
		t.Fatal("new lease is valid")
	}
	steps := []struct {
		until         time.Duration // from leaseEpoch
		wantRemaining time.Duration
	}{
		{until: time.Second, wantRemaining: time.Second},
		{until: 2 * time.Second, wantRemaining: 2 * time.Second},        // extends
		{until: 500 * time.Millisecond, wantRemaining: 2 * time.Second}, // never shortens
	}
	for i, s := range steps {
		if !l.Grant(l.Begin(), 1, leaseEpoch.Add(s.until)) {
			t.Fatalf("step %d: Grant refused", i)
		}
		if got := l.Remaining(1); got != s.wantRemaining {
			t.Fatalf("step %d: Remaining = %v, want %v", i, got, s.wantRemaining)
		}
	}
	if l.Valid(2) || l.Remaining(2) != 0 {
		t.Error("lease of term 1 is valid for term 2")
	}
}

func TestLeaseNewTermReplacesOldTermRefused(t *testing.T) {
	l := NewLease(clock.NewFake(leaseEpoch))
	l.Grant(l.Begin(), 3, leaseEpoch.Add(5*time.Second))
	if !l.Grant(l.Begin(), 4, leaseEpoch.Add(time.Second)) {
		t.Fatal("Grant for a newer term refused")
	}
	if l.Valid(3) {
		t.Error("old term still valid after a newer term's grant")
	}
	if got := l.Remaining(4); got != time.Second {
		t.Errorf("Remaining(4) = %v, want 1s: a new term replaces, it does not inherit", got)
	}
	if l.Grant(l.Begin(), 3, leaseEpoch.Add(time.Hour)) {
		t.Error("Grant for an older term accepted")
	}
	if got := l.Remaining(4); got != time.Second {
		t.Errorf("Remaining(4) = %v after a refused grant, want 1s", got)
	}
}

func TestLeaseExpiresWithClock(t *testing.T) {
	clk := clock.NewFake(leaseEpoch)
	l := NewLease(clk)
	l.Grant(l.Begin(), 1, leaseEpoch.Add(time.Second))
	clk.Advance(time.Second - time.Nanosecond)
	if !l.Valid(1) || l.Remaining(1) != time.Nanosecond {
		t.Fatalf("1ns before the end: Valid = %v, Remaining = %v", l.Valid(1), l.Remaining(1))
	}
	clk.Advance(time.Nanosecond)
	if l.Valid(1) || l.Remaining(1) != 0 {
		t.Fatal("lease still valid at its end time")
	}
}

// TestLeaseNeverOutlastsThePromise runs a round through EvaluateRound and
// Lease with a fake clock and checks the lease ends exactly where the
// weakest needed promise (after drift and margin) ends, not a nanosecond
// later.
func TestLeaseNeverOutlastsThePromise(t *testing.T) {
	clk := clock.NewFake(leaseEpoch)
	l := NewLease(clk)
	opts := consistency.LeaseOptions{DriftRatio: 0.2, Margin: 50 * time.Millisecond}
	tok := l.Begin()
	sentAt := clk.Now()
	clk.Advance(30 * time.Millisecond) // the replies take a while
	acks := []Ack{
		{ID: "b", Term: 9, LeaderID: "a", RefusesCandidatesFor: time.Second},
		{ID: "c", Term: 9, LeaderID: "a", RefusesCandidatesFor: 2 * time.Second},
		{ID: "d", Term: 9, LeaderID: "a", RefusesCandidatesFor: 3 * time.Second},
	}
	confirmed, until := EvaluateRound("a", 9, []string{"a", "b", "c", "d", "e"}, sentAt, acks, opts)
	if !confirmed || !l.Grant(tok, 9, until) {
		t.Fatalf("confirmed = %v, grant refused or lease missing (until %v)", confirmed, until)
	}
	// Quorum 3 = self + 2 followers: the 2nd best promise, c's 2s.
	promiseEnd := sentAt.Add(time.Duration(float64(2*time.Second)*(1-opts.DriftRatio)) - opts.Margin)
	clk.Advance(promiseEnd.Sub(clk.Now()) - time.Nanosecond)
	if !l.Valid(9) {
		t.Fatal("lease ended before the promise did")
	}
	clk.Advance(time.Nanosecond)
	if l.Valid(9) {
		t.Fatalf("lease still valid at %v after sentAt, the end of the promise it rests on", clk.Now().Sub(sentAt))
	}
}

func TestLeaseRevoke(t *testing.T) {
	l := NewLease(clock.NewFake(leaseEpoch))
	l.Grant(l.Begin(), 1, leaseEpoch.Add(time.Second))
	inFlight := l.Begin()
	l.Revoke()
	if l.Valid(1) {
		t.Fatal("lease valid after Revoke")
	}
	if l.Grant(inFlight, 1, leaseEpoch.Add(time.Second)) {
		t.Fatal("Grant of a round begun before Revoke was accepted")
	}
	if l.Valid(1) {
		t.Fatal("lease valid after a voided grant")
	}
	if !l.Grant(l.Begin(), 1, leaseEpoch.Add(time.Second)) || !l.Valid(1) {
		t.Fatal("a round begun after Revoke cannot grant")
	}
	l.Revoke()
	l.Revoke() // harmless
	if l.Valid(1) {
		t.Fatal("lease valid after a second Revoke")
	}
	if l.Grant(LeaseToken{}, 1, leaseEpoch.Add(time.Second)) {
		t.Fatal("zero token accepted")
	}
}

func TestLeaseSuspend(t *testing.T) {
	until := leaseEpoch.Add(time.Second)
	tests := []struct {
		name string
		run  func(t *testing.T, l *Lease)
	}{
		{"ends the lease and refuses grants while in force", func(t *testing.T, l *Lease) {
			l.Grant(l.Begin(), 1, until)
			resume := l.Suspend()
			defer resume()
			if l.Valid(1) {
				t.Error("valid while suspended")
			}
			if l.Grant(l.Begin(), 1, until) {
				t.Error("grant accepted while suspended")
			}
		}},
		{"voids rounds begun before", func(t *testing.T, l *Lease) {
			tok := l.Begin()
			l.Suspend()()
			if l.Grant(tok, 1, until) {
				t.Error("round begun before the suspension granted after resume")
			}
		}},
		{"voids rounds begun during", func(t *testing.T, l *Lease) {
			resume := l.Suspend()
			tok := l.Begin()
			resume()
			if l.Grant(tok, 1, until) {
				t.Error("round begun during the suspension granted after resume")
			}
		}},
		{"lease stays ended after resume until a new round", func(t *testing.T, l *Lease) {
			l.Grant(l.Begin(), 1, until)
			l.Suspend()()
			if l.Valid(1) {
				t.Error("the pre-transfer lease came back on resume")
			}
			if !l.Grant(l.Begin(), 1, until) || !l.Valid(1) {
				t.Error("a round begun after resume cannot grant")
			}
		}},
		{"resume is idempotent and nests", func(t *testing.T, l *Lease) {
			r1 := l.Suspend()
			r2 := l.Suspend()
			r1()
			r1() // must not end r2's suspension
			if l.Grant(l.Begin(), 1, until) {
				t.Error("grant accepted while the second suspension is in force")
			}
			r2()
			if !l.Grant(l.Begin(), 1, until) {
				t.Error("grant refused after both resumed")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, NewLease(clock.NewFake(leaseEpoch))) })
	}
}

func TestLeaseConcurrentUse(t *testing.T) {
	clk := clock.NewFake(leaseEpoch)
	l := NewLease(clk)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				switch i % 4 {
				case 0:
					l.Grant(l.Begin(), 1, leaseEpoch.Add(time.Second))
				case 1:
					l.Valid(1)
				case 2:
					l.Suspend()()
				case 3:
					l.Revoke()
				}
			}
		}()
	}
	wg.Wait()
	l.Revoke()
	if l.Valid(1) {
		t.Fatal("valid after the final Revoke")
	}
}

func TestNewLeaseNilClockUsesRealClock(t *testing.T) {
	l := NewLease(nil)
	l.Grant(l.Begin(), 1, time.Now().Add(time.Hour))
	if !l.Valid(1) {
		t.Fatal("lease an hour into the real future is not valid")
	}
}

// TestLeaseVoidUntil: after VoidUntil(term, t) no lease holds in term (or
// an older one) before t, no round begun before t grants one even when it
// completes after t, a round begun at t or later grants again, and a later
// term is not affected.
func TestLeaseVoidUntil(t *testing.T) {
	clk := clock.NewFake(leaseEpoch)
	l := NewLease(clk)
	l.Grant(l.Begin(), 5, leaseEpoch.Add(time.Hour))
	before := l.Begin()
	l.VoidUntil(5, leaseEpoch.Add(10*time.Second))
	if l.Valid(5) {
		t.Fatal("lease valid right after VoidUntil")
	}
	if l.Grant(before, 5, leaseEpoch.Add(time.Hour)) {
		t.Fatal("a round begun before VoidUntil granted")
	}
	clk.Advance(5 * time.Second)
	during := l.Begin()
	clk.Advance(6 * time.Second) // past the void's end
	if l.Grant(during, 5, clk.Now().Add(time.Second)) {
		t.Fatal("a round begun inside the void granted after it ended")
	}
	if l.Valid(5) {
		t.Fatal("lease valid without a grant after the void")
	}
	if !l.Grant(l.Begin(), 5, clk.Now().Add(time.Second)) || !l.Valid(5) {
		t.Fatal("a round begun after the void did not grant")
	}

	// A shorter void never shortens a longer one; a later term is free.
	l.VoidUntil(5, clk.Now().Add(time.Minute))
	l.VoidUntil(5, clk.Now().Add(time.Second))
	clk.Advance(2 * time.Second)
	if l.Grant(l.Begin(), 5, clk.Now().Add(time.Second)) {
		t.Fatal("a shorter VoidUntil shortened the void")
	}
	if l.Grant(l.Begin(), 4, clk.Now().Add(time.Second)) {
		t.Fatal("an older term granted inside the void")
	}
	if !l.Grant(l.Begin(), 6, clk.Now().Add(time.Second)) || !l.Valid(6) {
		t.Fatal("a later term was held by the void")
	}
}
