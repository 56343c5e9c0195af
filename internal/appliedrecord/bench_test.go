package appliedrecord_test

import (
	"path/filepath"
	"testing"

	"github.com/raftkit/raftkit/internal/appliedrecord"
)

func BenchmarkParse(b *testing.B) {
	data := mustMarshal(b, sampleRecord)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := appliedrecord.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFileStore measures one durable Store (two fsyncs and a
// rename); it bounds how often P can usefully be persisted.
func BenchmarkFileStore(b *testing.B) {
	f := appliedrecord.OpenFile(filepath.Join(b.TempDir(), "applied"))
	r := sampleRecord
	for b.Loop() {
		r.Index++
		if err := f.Store(r); err != nil {
			b.Fatal(err)
		}
	}
}
