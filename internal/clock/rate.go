package clock

import "time"

// Rate is a Clock that runs at Rate times the speed of the system clock,
// from the moment it was created: after one real second it has advanced
// Rate seconds. Fault tests give a node such a clock to model clock-rate
// drift between members. Create one with NewRate.
type Rate struct {
	base time.Time // a monotonic reading of the system clock
	rate float64
}

// NewRate returns a Clock running at rate (> 0) times real speed, standing
// at time.Now() when created. It panics when rate is not positive.
func NewRate(rate float64) *Rate {
	if !(rate > 0) {
		panic("clock: NewRate needs a positive rate")
	}
	return &Rate{base: time.Now(), rate: rate}
}

// Now returns the scaled time. It carries a monotonic reading, so
// differences between two results are immune to wall-clock steps.
func (c *Rate) Now() time.Time {
	return c.base.Add(time.Duration(float64(time.Since(c.base)) * c.rate))
}

// AfterFunc calls f once d has elapsed on this clock (d/Rate in real time).
func (c *Rate) AfterFunc(d time.Duration, f func()) Timer {
	return time.AfterFunc(time.Duration(float64(d)/c.rate), f)
}
