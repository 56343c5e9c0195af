package indexwait

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestWaitReturnsOnceIndexReached(t *testing.T) {
	var w Waiter
	results := make(chan uint64, 3)
	var wg sync.WaitGroup
	for _, target := range []uint64{5, 10, 15} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Wait(context.Background(), target); err != nil {
				t.Errorf("Wait(%d): %v", target, err)
			}
			results <- target
		}()
	}
	waitFor(t, func() bool { return w.Waiting() == 3 })
	w.Advance(10)
	got := map[uint64]bool{<-results: true, <-results: true}
	if !got[5] || !got[10] {
		t.Fatalf("Advance(10) woke %v, want 5 and 10", got)
	}
	select {
	case r := <-results:
		t.Fatalf("waiter for %d woke before its index", r)
	default:
	}
	w.Advance(9) // ignored: never backwards
	if w.Index() != 10 {
		t.Fatalf("Index = %d after a lower Advance, want 10", w.Index())
	}
	w.Advance(15)
	if r := <-results; r != 15 {
		t.Fatalf("woke %d, want 15", r)
	}
	wg.Wait()
}

func TestWaitHonoursContextAndClose(t *testing.T) {
	var w Waiter
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Wait(ctx, 1) }()
	waitFor(t, func() bool { return w.Waiting() == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel = %v, want context.Canceled", err)
	}
	if w.Waiting() != 0 {
		t.Fatalf("cancelled waiter still registered")
	}

	go func() { errc <- w.Wait(context.Background(), 7) }()
	waitFor(t, func() bool { return w.Waiting() == 1 })
	w.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Wait after Close = %v, want ErrClosed", err)
	}
	if err := w.Wait(context.Background(), 7); !errors.Is(err, ErrClosed) {
		t.Fatalf("Wait on closed = %v, want ErrClosed", err)
	}
	if err := w.Wait(context.Background(), 0); err != nil {
		t.Fatalf("Wait for a reached index on a closed waiter = %v, want nil", err)
	}
}

func TestResetMovesBackwards(t *testing.T) {
	var w Waiter
	w.Advance(100)
	w.Reset(40)
	if w.Index() != 40 {
		t.Fatalf("Index = %d after Reset(40)", w.Index())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
