package changefeed_test

import (
	"testing"

	"github.com/raftkit/raftkit/internal/changefeed"
	"github.com/raftkit/raftkit/internal/clock"
)

func BenchmarkCoalescerApplied(b *testing.B) {
	clk := clock.NewFake(epoch)
	c := changefeed.NewCoalescer(window, clk)
	defer c.Close()
	sub := c.Subscribe()
	defer sub.Close()
	c.SetReady(true)
	b.ReportAllocs()
	for i := uint64(1); b.Loop(); i++ {
		c.Applied(i)
	}
}
