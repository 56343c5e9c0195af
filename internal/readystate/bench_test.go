package readystate_test

import (
	"testing"

	"github.com/raftkit/raftkit/internal/clock"
	"github.com/raftkit/raftkit/internal/readystate"
	"github.com/raftkit/raftkit/readiness"
)

// BenchmarkTrackerUpdateSteady measures the ticker's cost on a Ready node
// with a watcher: an Update that changes nothing observable.
func BenchmarkTrackerUpdateSteady(b *testing.B) {
	tr := readystate.NewTracker(readiness.Policy{}, clock.NewFake(epoch))
	_, cancel := tr.Watch()
	defer cancel()
	o := synced
	o.LastContact = epoch
	tr.Update(o)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		o.Applied, o.CommitIndex = 150+uint64(i), 150+uint64(i)
		tr.Update(o)
	}
}
