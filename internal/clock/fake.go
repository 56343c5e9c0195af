package clock

import (
	"sort"
	"sync"
	"time"
)

// Fake is a manually driven Clock for tests. The zero value is not usable;
// create one with NewFake.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

// NewFake returns a Fake clock standing at start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

type fakeTimer struct {
	clock   *Fake
	at      time.Time
	f       func()
	stopped bool
	fired   bool
}

// Now returns the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f to run when the fake time reaches Now()+d. Unlike
// the real clock, f runs synchronously inside the Advance call that passes
// its deadline, so a test knows it has run when Advance returns.
func (c *Fake) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the fake time forward by d and runs, in deadline order, the
// callbacks whose deadlines are reached. Callbacks may schedule new timers;
// those due within the advanced span run too.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
		var due *fakeTimer
		for i, t := range c.timers {
			if t.stopped {
				continue
			}
			if !t.at.After(target) {
				due = t
				c.timers = append(c.timers[:i], c.timers[i+1:]...)
			}
			break
		}
		if due == nil {
			c.now = target
			c.pruneLocked()
			c.mu.Unlock()
			return
		}
		if due.at.After(c.now) {
			c.now = due.at
		}
		due.fired = true
		c.mu.Unlock()
		due.f()
	}
}

// Pending returns how many timers are scheduled and not yet fired or stopped.
func (c *Fake) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pruneLocked()
	return len(c.timers)
}

func (c *Fake) pruneLocked() {
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.stopped && !t.fired {
			kept = append(kept, t)
		}
	}
	c.timers = kept
}

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	if t.stopped || t.fired {
		return false
	}
	t.stopped = true
	return true
}
