package readiness_test

import (
	"path/filepath"
	"testing"

	"github.com/raftkit/raftkit/internal/clock"
	"github.com/raftkit/raftkit/readiness"
)

// BenchmarkTrackerUpdateSteady measures the ticker's cost on a Ready node
// with a watcher: an Update that changes nothing observable.
func BenchmarkTrackerUpdateSteady(b *testing.B) {
	tr := readiness.NewTracker(readiness.Policy{}, clock.NewFake(epoch))
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

func BenchmarkParseRecord(b *testing.B) {
	data := mustMarshal(b, sampleRecord)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := readiness.ParseRecord(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordFileStore measures one durable Store (two fsyncs and a
// rename); it bounds how often P can usefully be persisted.
func BenchmarkRecordFileStore(b *testing.B) {
	f := readiness.OpenRecordFile(filepath.Join(b.TempDir(), "applied"))
	r := sampleRecord
	for b.Loop() {
		r.Index++
		if err := f.Store(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCoalescerApplied(b *testing.B) {
	clk := clock.NewFake(epoch)
	c := readiness.NewCoalescer(window, clk)
	defer c.Close()
	sub := c.Subscribe()
	defer sub.Close()
	c.SetReady(true)
	b.ReportAllocs()
	for i := uint64(1); b.Loop(); i++ {
		c.Applied(i)
	}
}
