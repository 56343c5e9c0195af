package clock

import "time"

// Clock reports the current time and schedules callbacks.
type Clock interface {
	// Now returns the current time. For Real it carries a monotonic reading,
	// so differences between two results are immune to wall-clock steps.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has elapsed and returns
	// a Timer that can cancel the call.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a scheduled callback.
type Timer interface {
	// Stop cancels the callback. It reports whether the call was cancelled
	// before it ran.
	Stop() bool
}

// Real is the system clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// OrReal returns c, or Real when c is nil, so that a nil Clock in a config
// means the system clock.
func OrReal(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}
