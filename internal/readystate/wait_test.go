package readystate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/clock"
	"github.com/raftkit/raftkit/internal/readystate"
	"github.com/raftkit/raftkit/internal/testutil"
	"github.com/raftkit/raftkit/readiness"
)

var recovered = readystate.Observation{Recovered: true, Applied: 100, Persisted: 100}

func TestWatchLatestWins(t *testing.T) {
	tr := readystate.NewTracker(readiness.Policy{}, clock.NewFake(epoch))
	ch, cancel := tr.Watch()
	defer cancel()
	if s := <-ch; s.State != readiness.Starting {
		t.Fatalf("seed = %v, want Starting", s.State)
	}
	// The reader is late: four changes happen before it reads again.
	tr.Update(readystate.Observation{Recovering: true})
	tr.Update(recovered)
	tr.Update(with(synced, func(o *readystate.Observation) { o.Applied = 120 }))
	tr.Update(synced)
	if s := <-ch; s.State != readiness.Ready {
		t.Fatalf("late reader got %v, want the newest status, Ready", s.State)
	}
	// An Update that changes neither State nor Reason is not sent.
	tr.Update(with(synced, func(o *readystate.Observation) { o.Applied, o.CommitIndex = 151, 151 }))
	select {
	case s := <-ch:
		t.Fatalf("got %v %q without a change of state or reason", s.State, s.Reason)
	default:
	}
	cancel()
	cancel() // idempotent
	if _, ok := <-ch; ok {
		t.Fatal("channel still open after cancel")
	}
}

func TestWatchEndsAtClosed(t *testing.T) {
	tr := readystate.NewTracker(readiness.Policy{}, clock.NewFake(epoch))
	ch, cancel := tr.Watch()
	defer cancel()
	tr.Update(recovered)
	tr.Update(readystate.Observation{Closed: true})
	var last readiness.Status
	for s := range ch { // must end: the channel closes after Closed
		last = s
	}
	if last.State != readiness.Closed {
		t.Fatalf("last status %v, want Closed", last.State)
	}
	late, lateCancel := tr.Watch()
	defer lateCancel()
	if s, ok := <-late; !ok || s.State != readiness.Closed {
		t.Fatalf("Watch after Closed: %v, %v; want the Closed status", s.State, ok)
	}
	if _, ok := <-late; ok {
		t.Fatal("Watch after Closed: channel not closed")
	}
}

func TestOnChangeSeesEveryChangeInOrder(t *testing.T) {
	clk := clock.NewFake(epoch)
	tr := readystate.NewTracker(readiness.Policy{}, clk)
	var seen []readiness.Status
	prev := tr.Status()
	tr.OnChange(func(old, new readiness.Status) {
		if old != prev {
			t.Errorf("callback old = %v, want the previous new %v", old.State, prev.State)
		}
		if got := tr.Status(); got.State != new.State {
			t.Errorf("Status() inside callback = %v, want %v", got.State, new.State)
		}
		prev = new
		seen = append(seen, new)
	})
	tr.OnChange(nil) // ignored
	for _, o := range []readystate.Observation{
		{Recovering: true}, {Recovering: true}, recovered, recovered,
		with(synced, func(o *readystate.Observation) { o.Applied = 120 }),
		with(synced, func(o *readystate.Observation) { o.Applied = 130 }), // reason changes
		synced, synced,
	} {
		tr.Update(o)
	}
	want := []readiness.State{readiness.Recovering, readiness.Recovered, readiness.CatchingUp, readiness.CatchingUp, readiness.Ready}
	if len(seen) != len(want) {
		t.Fatalf("callback ran %d times, want %d: %v", len(seen), len(want), seen)
	}
	for i := range want {
		if seen[i].State != want[i] {
			t.Fatalf("change %d = %v, want %v", i, seen[i].State, want[i])
		}
	}
}

func TestWaitSeesEveryUpdate(t *testing.T) {
	tr := readystate.NewTracker(readiness.Policy{}, clock.NewFake(epoch))
	done := make(chan readiness.Status, 1)
	go func() {
		s, err := tr.Wait(context.Background(), func(s readiness.Status) bool { return s.Applied >= 100 })
		if err != nil {
			t.Errorf("Wait: %v", err)
		}
		done <- s
	}()
	testutil.WaitFor(t, 5*time.Second, "Wait blocked", func() bool { return tr.Waiting() == 1 })
	// Applied grows while State and Reason stay the same.
	tr.Update(readystate.Observation{Recovering: true, Applied: 50})
	tr.Update(readystate.Observation{Recovering: true, Applied: 100})
	if s := receive(t, done); s.Applied != 100 {
		t.Fatalf("Wait returned Applied %d, want 100", s.Applied)
	}
	if _, err := tr.Wait(context.Background(), nil); err == nil {
		t.Fatal("Wait with a nil condition did not fail")
	}
}

func TestWaitReadyStrict(t *testing.T) {
	tests := []struct {
		name    string
		before  []readystate.Observation // before WaitReady is called
		after   []readystate.Observation // while it waits
		cancel  bool
		advance time.Duration
		want    readiness.State
		wantErr error
	}{
		{name: "already ready", before: []readystate.Observation{synced}, want: readiness.Ready},
		{name: "becomes ready", after: []readystate.Observation{recovered, synced}, want: readiness.Ready},
		{name: "recovered is not enough", before: []readystate.Observation{recovered}, advance: time.Hour, cancel: true,
			want: readiness.Recovered, wantErr: context.Canceled},
		{name: "closed", after: []readystate.Observation{recovered, {Closed: true}}, want: readiness.Closed, wantErr: readystate.ErrClosed},
		{name: "already closed", before: []readystate.Observation{{Closed: true}}, want: readiness.Closed, wantErr: readystate.ErrClosed},
		{name: "removed while waiting", after: []readystate.Observation{recovered, with(recovered, func(o *readystate.Observation) { o.Removed = true })},
			want: readiness.Removed, wantErr: readystate.ErrRemoved},
		{name: "already removed", before: []readystate.Observation{synced, with(synced, func(o *readystate.Observation) { o.Removed = true })},
			want: readiness.Removed, wantErr: readystate.ErrRemoved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(epoch)
			tr := readystate.NewTracker(readiness.Policy{}, clk)
			for _, o := range tt.before {
				tr.Update(o)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			res := startWaitReady(ctx, tr)
			if len(tt.after) > 0 {
				testutil.WaitFor(t, 5*time.Second, "WaitReady blocked", func() bool { return tr.Waiting() == 1 })
			}
			for _, o := range tt.after {
				tr.Update(o)
			}
			clk.Advance(tt.advance)
			if tt.cancel {
				expectPending(t, res)
				cancel()
			}
			got := receive(t, res)
			if !errors.Is(got.err, tt.wantErr) || got.res.Status.State != tt.want || got.res.RecoveredOnly {
				t.Fatalf("WaitReady = %+v, %v; want %v, %v", got.res, got.err, tt.want, tt.wantErr)
			}
			testutil.WaitFor(t, 5*time.Second, "waiter removed", func() bool { return tr.Waiting() == 0 })
		})
	}
}

func TestWaitReadyRecoveredGrace(t *testing.T) {
	const grace = 10 * time.Second
	t.Run("grace elapses", func(t *testing.T) {
		clk := clock.NewFake(epoch)
		tr := readystate.NewTracker(readiness.Policy{RecoveredGrace: grace}, clk)
		res := startWaitReady(context.Background(), tr)
		testutil.WaitFor(t, 5*time.Second, "WaitReady blocked", func() bool { return tr.Waiting() == 1 })
		tr.Update(readystate.Observation{Recovering: true})
		expectPending(t, res)
		tr.Update(recovered) // the grace starts here
		testutil.WaitFor(t, 5*time.Second, "grace timer armed", func() bool { return clk.Pending() == 1 })
		clk.Advance(grace - time.Millisecond)
		expectPending(t, res)
		clk.Advance(time.Millisecond)
		got := receive(t, res)
		if got.err != nil || !got.res.RecoveredOnly || got.res.Status.State != readiness.Recovered {
			t.Fatalf("WaitReady = %+v, %v; want RecoveredOnly in Recovered", got.res, got.err)
		}
	})
	t.Run("ready before the grace", func(t *testing.T) {
		clk := clock.NewFake(epoch)
		tr := readystate.NewTracker(readiness.Policy{RecoveredGrace: grace}, clk)
		tr.Update(recovered)
		res := startWaitReady(context.Background(), tr)
		testutil.WaitFor(t, 5*time.Second, "grace timer armed", func() bool { return clk.Pending() == 1 })
		clk.Advance(grace / 2)
		tr.Update(synced)
		got := receive(t, res)
		if got.err != nil || got.res.RecoveredOnly || got.res.Status.State != readiness.Ready {
			t.Fatalf("WaitReady = %+v, %v; want Ready", got.res, got.err)
		}
		if clk.Pending() != 0 {
			t.Fatalf("%d timers left after WaitReady returned", clk.Pending())
		}
	})
	t.Run("grace already over", func(t *testing.T) {
		clk := clock.NewFake(epoch)
		tr := readystate.NewTracker(readiness.Policy{RecoveredGrace: grace}, clk)
		tr.Update(recovered)
		clk.Advance(grace)
		tr.Update(with(synced, func(o *readystate.Observation) { o.Applied = 120 }))
		r, err := tr.WaitReady(context.Background())
		if err != nil || !r.RecoveredOnly || r.Status.State != readiness.CatchingUp {
			t.Fatalf("WaitReady = %+v, %v; want RecoveredOnly in CatchingUp at once", r, err)
		}
	})
	t.Run("removed during the grace", func(t *testing.T) {
		clk := clock.NewFake(epoch)
		tr := readystate.NewTracker(readiness.Policy{RecoveredGrace: grace}, clk)
		tr.Update(recovered)
		res := startWaitReady(context.Background(), tr)
		testutil.WaitFor(t, 5*time.Second, "grace timer armed", func() bool { return clk.Pending() == 1 })
		tr.Update(with(recovered, func(o *readystate.Observation) { o.Removed = true }))
		got := receive(t, res)
		if !errors.Is(got.err, readystate.ErrRemoved) || got.res.RecoveredOnly || got.res.Status.State != readiness.Removed {
			t.Fatalf("WaitReady = %+v, %v; want ErrRemoved in Removed", got.res, got.err)
		}
	})
	t.Run("removed, grace already over", func(t *testing.T) {
		clk := clock.NewFake(epoch)
		tr := readystate.NewTracker(readiness.Policy{RecoveredGrace: grace}, clk)
		tr.Update(recovered)
		clk.Advance(grace)
		tr.Update(with(recovered, func(o *readystate.Observation) { o.Removed = true }))
		if r, err := tr.WaitReady(context.Background()); !errors.Is(err, readystate.ErrRemoved) || r.RecoveredOnly {
			t.Fatalf("WaitReady = %+v, %v; want ErrRemoved", r, err)
		}
	})
	t.Run("context ends during the grace", func(t *testing.T) {
		clk := clock.NewFake(epoch)
		tr := readystate.NewTracker(readiness.Policy{RecoveredGrace: grace}, clk)
		tr.Update(recovered)
		ctx, cancel := context.WithCancel(context.Background())
		res := startWaitReady(ctx, tr)
		testutil.WaitFor(t, 5*time.Second, "grace timer armed", func() bool { return clk.Pending() == 1 })
		cancel()
		if got := receive(t, res); !errors.Is(got.err, context.Canceled) || got.res.RecoveredOnly {
			t.Fatalf("WaitReady = %+v, %v; want context.Canceled", got.res, got.err)
		}
	})
}

type waitReadyResult struct {
	res readystate.WaitResult
	err error
}

func startWaitReady(ctx context.Context, tr *readystate.Tracker) <-chan waitReadyResult {
	ch := make(chan waitReadyResult, 1)
	go func() {
		r, err := tr.WaitReady(ctx)
		ch <- waitReadyResult{r, err}
	}()
	return ch
}

func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a result")
		var zero T
		return zero
	}
}

// expectPending fails if ch already holds a result. A wrongly early result
// that has not arrived yet is missed, never a correct one reported.
func expectPending[T any](t *testing.T, ch <-chan T) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("returned early with %+v", v)
	default:
	}
}
