package clock

import (
	"testing"
	"time"
)

func TestRateScalesElapsedTime(t *testing.T) {
	for _, rate := range []float64{0.5, 1, 2} {
		c := NewRate(rate)
		realStart, start := time.Now(), c.Now()
		done := make(chan struct{})
		c.AfterFunc(40*time.Millisecond, func() { close(done) })
		<-done
		elapsed := c.Now().Sub(start) // read first, so that it spans no more real time than realElapsed
		realElapsed := time.Since(realStart)
		// The timer fired after 40ms on c, that is 40ms/rate of real time.
		if elapsed < 40*time.Millisecond {
			t.Errorf("rate %v: timer fired after %v on the clock, before its 40ms", rate, elapsed)
		}
		if realElapsed < time.Duration(float64(40*time.Millisecond)/rate) {
			t.Errorf("rate %v: timer fired after %v of real time, want at least %v", rate, realElapsed, time.Duration(float64(40*time.Millisecond)/rate))
		}
		got := float64(elapsed) / float64(realElapsed)
		if got > rate*1.001 {
			t.Errorf("rate %v: clock advanced %v while real time advanced %v (ratio %.3f)", rate, elapsed, realElapsed, got)
		}
	}
}
