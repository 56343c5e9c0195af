package roundbatch

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/testutil"
)

// waitLimit bounds every wait on a condition; tests end far sooner.
const waitLimit = 5 * time.Second

// scriptedRound is a RoundFunc whose k-th round returns index k (or the
// error the test releases it with). Each round announces its start on
// started and blocks until the test sends on release or its ctx ends.
type scriptedRound struct {
	n        atomic.Uint64
	started  chan uint64
	release  chan error
	ctxEnded chan error // receives ctx.Err() of a round ended by its ctx
}

func newScriptedRound() *scriptedRound {
	return &scriptedRound{started: make(chan uint64, 16), release: make(chan error), ctxEnded: make(chan error, 16)}
}

func (s *scriptedRound) round(ctx context.Context) (uint64, error) {
	k := s.n.Add(1)
	s.started <- k
	select {
	case err := <-s.release:
		if err != nil {
			return 0, err
		}
		return k, nil
	case <-ctx.Done():
		s.ctxEnded <- ctx.Err()
		return 0, ctx.Err()
	}
}

func (s *scriptedRound) waitStarted(t *testing.T, want uint64) {
	t.Helper()
	select {
	case k := <-s.started:
		if k != want {
			t.Fatalf("round %d started, want round %d", k, want)
		}
	case <-time.After(waitLimit):
		t.Fatalf("round %d never started", want)
	}
}

type doResult struct {
	index uint64
	err   error
}

func goDo(ctx context.Context, b *Batcher) <-chan doResult {
	ch := make(chan doResult, 1)
	go func() {
		i, err := b.Do(ctx)
		ch <- doResult{i, err}
	}()
	return ch
}

func recv(t *testing.T, ch <-chan doResult) doResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(waitLimit):
		t.Fatal("Do did not return")
		return doResult{}
	}
}

func TestBatcherManyCallersShareRounds(t *testing.T) {
	s := newScriptedRound()
	b := New(s.round, Options{})
	defer b.Close()

	const callers = 1000
	results := make(chan doResult, callers)
	var wg sync.WaitGroup
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			idx, err := b.Do(context.Background())
			results <- doResult{idx, err}
		}()
	}
	s.waitStarted(t, 1) // the first caller started round 1, which blocks
	testutil.WaitFor(t, waitLimit, "all callers waiting", func() bool { return b.Waiting() == callers })
	s.release <- nil
	s.waitStarted(t, 2) // everyone else shares round 2
	s.release <- nil
	wg.Wait()
	close(results)

	perIndex := map[uint64]int{}
	for r := range results {
		if r.err != nil {
			t.Fatalf("Do: %v", r.err)
		}
		perIndex[r.index]++
	}
	if got := b.Rounds(); got < 1 || got > 3 {
		t.Fatalf("%d callers cost %d rounds, want 1..3", callers, got)
	}
	if perIndex[1] != 1 || perIndex[2] != callers-1 {
		t.Fatalf("callers per round index = %v, want 1 in round 1 and %d in round 2", perIndex, callers-1)
	}
}

func TestBatcherCallerDuringRoundGetsNextRound(t *testing.T) {
	s := newScriptedRound()
	b := New(s.round, Options{})
	defer b.Close()
	ctx := context.Background()

	first := goDo(ctx, b)
	s.waitStarted(t, 1)
	second := goDo(ctx, b) // arrives while round 1 is in flight
	testutil.WaitFor(t, waitLimit, "second caller waiting", func() bool { return b.Waiting() == 2 })
	s.release <- nil
	if r := recv(t, first); r.err != nil || r.index != 1 {
		t.Fatalf("first caller got %+v, want index 1", r)
	}
	s.waitStarted(t, 2)
	third := goDo(ctx, b) // arrives while round 2 is in flight
	testutil.WaitFor(t, waitLimit, "third caller waiting", func() bool { return b.Waiting() == 2 })
	s.release <- nil
	if r := recv(t, second); r.err != nil || r.index != 2 {
		t.Fatalf("caller arriving during round 1 got %+v, want index 2", r)
	}
	s.waitStarted(t, 3)
	s.release <- nil
	if r := recv(t, third); r.err != nil || r.index != 3 {
		t.Fatalf("caller arriving during round 2 got %+v, want index 3", r)
	}
	// Idle again: a new caller starts a round at once.
	fourth := goDo(ctx, b)
	s.waitStarted(t, 4)
	s.release <- nil
	if r := recv(t, fourth); r.index != 4 {
		t.Fatalf("caller on an idle batcher got %+v, want index 4", r)
	}
}

func TestBatcherRoundErrorReachesAllItsCallers(t *testing.T) {
	s := newScriptedRound()
	b := New(s.round, Options{})
	defer b.Close()
	ctx := context.Background()
	errBoom := errors.New("no quorum")

	first := goDo(ctx, b)
	s.waitStarted(t, 1)
	var next []<-chan doResult
	for i := 0; i < 5; i++ {
		next = append(next, goDo(ctx, b))
	}
	testutil.WaitFor(t, waitLimit, "callers waiting", func() bool { return b.Waiting() == 6 })
	s.release <- nil
	if r := recv(t, first); r.err != nil {
		t.Fatalf("round 1 caller: %v", r.err)
	}
	s.waitStarted(t, 2)
	s.release <- errBoom
	for i, ch := range next {
		if r := recv(t, ch); !errors.Is(r.err, errBoom) {
			t.Fatalf("caller %d of the failed round got %+v, want %v", i, r, errBoom)
		}
	}
}

func TestBatcherCallerCancelReturnsPromptly(t *testing.T) {
	s := newScriptedRound()
	b := New(s.round, Options{})
	defer b.Close()

	stay := goDo(context.Background(), b)
	s.waitStarted(t, 1)
	ctx1, cancel1 := context.WithCancel(context.Background())
	inFlight := goDo(ctx1, b) // joins round 2, then gives up
	testutil.WaitFor(t, waitLimit, "caller waiting", func() bool { return b.Waiting() == 2 })
	cancel1()
	if r := recv(t, inFlight); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled caller got %+v, want context.Canceled", r)
	}
	// The round goes on for the others.
	s.release <- nil
	if r := recv(t, stay); r.err != nil || r.index != 1 {
		t.Fatalf("remaining caller got %+v, want index 1", r)
	}
	// Nobody waits for round 2 any more, so it is skipped: the next caller
	// starts the second round the RoundFunc ever sees.
	later := goDo(context.Background(), b)
	s.waitStarted(t, 2)
	s.release <- nil
	if r := recv(t, later); r.index != 2 || b.Rounds() != 2 {
		t.Fatalf("later caller got %+v after %d rounds, want index 2 after 2 rounds", r, b.Rounds())
	}

	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := b.Do(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Do with a done ctx = %v, want context.Canceled", err)
	}
	if b.Rounds() != 2 {
		t.Fatalf("Do with a done ctx started a round (%d rounds)", b.Rounds())
	}
}

func TestBatcherCloseWithRoundInFlight(t *testing.T) {
	s := newScriptedRound()
	b := New(s.round, Options{})
	inRound := goDo(context.Background(), b)
	s.waitStarted(t, 1)
	waiting := goDo(context.Background(), b)
	testutil.WaitFor(t, waitLimit, "both callers waiting", func() bool { return b.Waiting() == 2 })

	b.Close()
	select {
	case err := <-s.ctxEnded:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("round ctx ended with %v, want context.Canceled", err)
		}
	default:
		t.Fatal("Close returned before the in-flight round saw its ctx cancelled")
	}
	for name, ch := range map[string]<-chan doResult{"in round": inRound, "waiting": waiting} {
		if r := recv(t, ch); !errors.Is(r.err, ErrClosed) {
			t.Errorf("caller %s got %+v, want ErrClosed", name, r)
		}
	}
	if _, err := b.Do(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Do after Close = %v, want ErrClosed", err)
	}
	b.Close() // idempotent
	if b.Rounds() != 1 {
		t.Errorf("Rounds = %d, want 1: the waiting caller's round must not start after Close", b.Rounds())
	}
}

func TestBatcherRoundTimeout(t *testing.T) {
	s := newScriptedRound()
	b := New(s.round, Options{Timeout: 20 * time.Millisecond})
	defer b.Close()
	_, err := b.Do(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do on a round that never ends = %v, want context.DeadlineExceeded", err)
	}
}

func TestBatcherNilRoundFunc(t *testing.T) {
	b := New(nil, Options{})
	defer b.Close()
	if _, err := b.Do(context.Background()); !errors.Is(err, ErrNoRoundFunc) {
		t.Fatalf("Do = %v, want ErrNoRoundFunc", err)
	}
}

// TestBatcherLoneCallerCancelEndsItsRound: a round started on an idle
// Batcher belongs to its caller alone (later callers join the next one),
// so it runs under the caller's ctx; a caller joining meanwhile still gets
// a round of its own.
func TestBatcherLoneCallerCancelEndsItsRound(t *testing.T) {
	s := newScriptedRound()
	b := New(s.round, Options{})
	defer b.Close()

	ctx, cancel := context.WithCancel(context.Background())
	lone := goDo(ctx, b)
	s.waitStarted(t, 1)
	later := goDo(context.Background(), b)
	testutil.WaitFor(t, waitLimit, "the later caller waiting", func() bool { return b.Waiting() == 2 })
	cancel()
	if r := recv(t, lone); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled caller got %+v, want context.Canceled", r)
	}
	select {
	case err := <-s.ctxEnded:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("round 1 ended with %v, want context.Canceled", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("round 1 did not see its caller's ctx end")
	}
	s.waitStarted(t, 2)
	s.release <- nil
	if r := recv(t, later); r.err != nil || r.index != 2 {
		t.Fatalf("later caller got %+v, want index 2", r)
	}
}

// TestBatcherRoundContextDeadline: a round's ctx reports its deadline and,
// once it passes, ends with context.DeadlineExceeded, both for a round led
// by its caller and for one a goroutine runs for joined callers.
func TestBatcherRoundContextDeadline(t *testing.T) {
	const timeout = 50 * time.Millisecond
	type seen struct {
		deadline time.Time
		err      error
	}
	seenCh := make(chan seen, 2)
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	b := New(func(ctx context.Context) (uint64, error) {
		started <- struct{}{}
		d, ok := ctx.Deadline()
		if !ok {
			t.Error("round ctx has no deadline")
		}
		select {
		case <-ctx.Done():
		case <-release:
		}
		<-ctx.Done()
		seenCh <- seen{d, ctx.Err()}
		return 0, ctx.Err()
	}, Options{Timeout: timeout})
	defer b.Close()

	before := time.Now()
	first := goDo(context.Background(), b)
	<-started
	joined := goDo(context.Background(), b)
	testutil.WaitFor(t, waitLimit, "the joined caller waiting", func() bool { return b.Waiting() == 2 })
	for name, ch := range map[string]<-chan doResult{"leading": first, "joined": joined} {
		if r := recv(t, ch); !errors.Is(r.err, context.DeadlineExceeded) {
			t.Errorf("%s caller got %+v, want context.DeadlineExceeded", name, r)
		}
	}
	for i := 0; i < 2; i++ {
		s := <-seenCh
		if !errors.Is(s.err, context.DeadlineExceeded) {
			t.Errorf("round %d ctx.Err() = %v, want context.DeadlineExceeded", i+1, s.err)
		}
		if s.deadline.Before(before.Add(timeout)) || s.deadline.After(time.Now()) {
			t.Errorf("round %d deadline %v not within [start+timeout, now]", i+1, s.deadline)
		}
	}
}

// TestBatcherDoUntil: DoUntil bounds a round its caller leads by the
// caller's deadline, and a caller that joined a round by its own deadline
// while the round goes on for the others.
func TestBatcherDoUntil(t *testing.T) {
	s := newScriptedRound()
	b := New(s.round, Options{Timeout: time.Hour})
	defer b.Close()

	deadline := time.Now().Add(30 * time.Millisecond)
	if _, err := b.DoUntil(context.Background(), deadline); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("DoUntil leading a round that never ends = %v, want context.DeadlineExceeded", err)
	}
	if time.Now().Before(deadline) {
		t.Fatal("DoUntil returned before its deadline")
	}
	if err := <-s.ctxEnded; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("round 1 ctx ended with %v, want context.DeadlineExceeded", err)
	}
	<-s.started

	stay := goDo(context.Background(), b)
	s.waitStarted(t, 2)
	joinedCh := make(chan doResult, 1)
	go func() {
		i, err := b.DoUntil(context.Background(), time.Now().Add(30*time.Millisecond))
		joinedCh <- doResult{i, err}
	}()
	if r := recv(t, joinedCh); !errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("joined DoUntil got %+v, want context.DeadlineExceeded", r)
	}
	s.release <- nil
	if r := recv(t, stay); r.err != nil || r.index != 2 {
		t.Fatalf("remaining caller got %+v, want index 2", r)
	}
	if _, err := b.DoUntil(context.Background(), time.Now().Add(-time.Second)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("DoUntil past its deadline = %v, want context.DeadlineExceeded", err)
	}
	if b.Rounds() != 2 {
		t.Fatalf("Rounds = %d, want 2: a caller past its deadline starts none", b.Rounds())
	}
}
