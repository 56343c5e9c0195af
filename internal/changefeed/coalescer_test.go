package changefeed_test

import (
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/changefeed"
	"github.com/raftkit/raftkit/internal/clock"
	"github.com/raftkit/raftkit/readiness"
)

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const window = 50 * time.Millisecond

// drain returns the changes waiting on s without blocking.
func drain(s *changefeed.Subscription) []readiness.Change {
	var got []readiness.Change
	for {
		select {
		case c, ok := <-s.C():
			if !ok {
				return got
			}
			got = append(got, c)
		default:
			return got
		}
	}
}

func TestCoalescerNothingBeforeReadyThenOneInitial(t *testing.T) {
	clk := clock.NewFake(epoch)
	c := changefeed.NewCoalescer(window, clk)
	defer c.Close()
	sub := c.Subscribe()
	for i := uint64(1); i <= 10000; i++ {
		c.Applied(i)
		if i%1000 == 0 {
			clk.Advance(window)
		}
	}
	if got := drain(sub); len(got) != 0 {
		t.Fatalf("before Ready: got %v, want nothing", got)
	}
	c.SetReady(true)
	clk.Advance(10 * window)
	got := drain(sub)
	want := readiness.Change{From: 0, To: 10000, Initial: true}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("at first Ready: got %v, want exactly [%v]", got, want)
	}
	if clk.Pending() != 0 {
		t.Fatalf("%d timers pending with nothing to deliver", clk.Pending())
	}
}

func TestCoalescerOneChangePerWindow(t *testing.T) {
	clk := clock.NewFake(epoch)
	c := changefeed.NewCoalescer(window, clk)
	defer c.Close()
	sub := c.Subscribe()
	c.Applied(10)
	c.SetReady(true)
	drain(sub)

	for i := uint64(11); i <= 1010; i++ {
		c.Applied(i)
	}
	clk.Advance(window - time.Millisecond)
	if got := drain(sub); len(got) != 0 {
		t.Fatalf("inside the window: got %v, want nothing yet", got)
	}
	clk.Advance(time.Millisecond)
	got := drain(sub)
	if want := (readiness.Change{From: 10, To: 1010}); len(got) != 1 || got[0] != want {
		t.Fatalf("after 1000 Applied calls in one window: got %v, want [%v]", got, want)
	}
}

func TestCoalescerSpreadOverWindowsIsBoundedAndContiguous(t *testing.T) {
	clk := clock.NewFake(epoch)
	c := changefeed.NewCoalescer(window, clk)
	defer c.Close()
	c.SetReady(true)
	sub := c.Subscribe()
	got := drain(sub) // the Initial (0, 0]
	// 400 entries, one every millisecond: 400ms, eight windows.
	for i := uint64(1); i <= 400; i++ {
		c.Applied(i)
		clk.Advance(time.Millisecond)
		got = append(got, drain(sub)...)
	}
	clk.Advance(window)
	got = append(got, drain(sub)...)
	if len(got) < 2 || len(got) > 1+400/int(window/time.Millisecond)+1 {
		t.Fatalf("got %d changes for 400ms of applies with a %v window: %v", len(got), window, got)
	}
	if !got[0].Initial {
		t.Fatalf("first change %v is not Initial", got[0])
	}
	next := uint64(0)
	for _, ch := range got {
		if ch.From != next || ch.To < ch.From {
			t.Fatalf("changes are not contiguous at %v (expected From %d): %v", ch, next, got)
		}
		next = ch.To
	}
	if next != 400 {
		t.Fatalf("changes end at %d, want 400", next)
	}
}

func TestCoalescerSlowSubscriberGetsMergedRange(t *testing.T) {
	clk := clock.NewFake(epoch)
	c := changefeed.NewCoalescer(window, clk)
	defer c.Close()
	c.Applied(5)
	slow := c.Subscribe()
	c.SetReady(true) // Initial (0, 5] sits unread
	for _, idx := range []uint64{7, 9, 20} {
		c.Applied(idx)
		clk.Advance(window)
	}
	got := drain(slow)
	if want := (readiness.Change{From: 0, To: 20, Initial: true}); len(got) != 1 || got[0] != want {
		t.Fatalf("slow subscriber: got %v, want one merged %v", got, want)
	}
}

func TestCoalescerLateSubscriberAndFlapping(t *testing.T) {
	clk := clock.NewFake(epoch)
	c := changefeed.NewCoalescer(0, clk) // 0: the default window
	defer c.Close()
	c.Applied(30)
	c.SetReady(true)
	c.SetReady(false) // Degraded: delivery goes on
	late := c.Subscribe()
	if got := drain(late); len(got) != 1 || got[0] != (readiness.Change{From: 0, To: 30, Initial: true}) {
		t.Fatalf("late subscriber: got %v, want Initial (0, 30]", got)
	}
	c.Applied(31)
	c.SetReady(true) // not a first Ready: no second Initial
	clk.Advance(changefeed.DefaultWindow)
	if got := drain(late); len(got) != 1 || got[0] != (readiness.Change{From: 30, To: 31}) {
		t.Fatalf("after flapping: got %v, want (30, 31]", got)
	}
	c.Applied(31) // not an advance
	c.Applied(12) // nor is this
	clk.Advance(time.Hour)
	if got := drain(late); len(got) != 0 {
		t.Fatalf("no new index: got %v, want nothing", got)
	}
}

func TestCoalescerClose(t *testing.T) {
	clk := clock.NewFake(epoch)
	c := changefeed.NewCoalescer(window, clk)
	a, b := c.Subscribe(), c.Subscribe()
	c.SetReady(true)
	c.Applied(3) // arms the timer
	b.Close()
	b.Close() // idempotent
	drain(b)  // the Initial queued before Close stays readable
	if _, ok := <-b.C(); ok {
		t.Fatal("closed subscription's channel still open")
	}
	c.Close()
	c.Close() // idempotent
	if clk.Pending() != 0 {
		t.Fatalf("%d timers pending after Close", clk.Pending())
	}
	got := drain(a)
	if len(got) != 1 || !got[0].Initial {
		t.Fatalf("unread change before Close: got %v, want the Initial", got)
	}
	if _, ok := <-a.C(); ok {
		t.Fatal("channel open after Close")
	}
	c.Applied(10)
	c.SetReady(true)
	if _, ok := <-c.Subscribe().C(); ok {
		t.Fatal("Subscribe after Close returned an open channel")
	}
	a.Close() // after the Coalescer closed it: still fine
}

func TestCoalescerWithRealClock(t *testing.T) {
	c := changefeed.NewCoalescer(time.Millisecond, nil)
	defer c.Close()
	sub := c.Subscribe()
	c.SetReady(true)
	<-sub.C()
	c.Applied(1)
	c.Applied(2)
	select {
	case ch := <-sub.C():
		if ch != (readiness.Change{From: 0, To: 2}) {
			t.Fatalf("got %v, want (0, 2]", ch)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no change delivered by the real timer")
	}
}
