package raftsync

import (
	"io"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/appliedrecord"
)

// countingFSM counts the commands it applies.
type countingFSM struct{ applied atomic.Uint64 }

func (c *countingFSM) Apply(*raft.Log) any                 { c.applied.Add(1); return nil }
func (c *countingFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, io.EOF }
func (c *countingFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

// TestRecoverLocalReplaysToATrustedRecordOnly runs local recovery alone, on
// an in-memory log, a real snapshot directory and a real record file: the
// log is replayed up to the record when the record is this node's and
// agrees with the log, and not at all when it does not.
func TestRecoverLocalReplaysToATrustedRecordOnly(t *testing.T) {
	tests := []struct {
		name         string
		rec          appliedrecord.Record
		wantApplied  uint64
		wantReplayed uint64
	}{
		{"trusted record", appliedrecord.Record{NodeID: "n1", ClusterID: "c1", Index: 7, Term: 2}, 7, 7},
		{"another node's record", appliedrecord.Record{NodeID: "n2", ClusterID: "c1", Index: 7, Term: 2}, 0, 0},
		{"record of a term the log does not hold", appliedrecord.Record{NodeID: "n1", ClusterID: "c1", Index: 7, Term: 3}, 0, 0},
		{"record ahead of the log", appliedrecord.Record{NodeID: "n1", ClusterID: "c1", Index: 11, Term: 2}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			logs := raft.NewInmemStore()
			for i := uint64(1); i <= 10; i++ {
				term := uint64(1)
				if i > 5 {
					term = 2
				}
				if err := logs.StoreLog(&raft.Log{Index: i, Term: term, Type: raft.LogCommand, Data: []byte("x")}); err != nil {
					t.Fatal(err)
				}
			}
			snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hclog.NewNullLogger())
			if err != nil {
				t.Fatal(err)
			}
			record := &recordStore{s: recordFile{f: appliedrecord.OpenFile(filepath.Join(dir, recordFileName))}}
			if err := record.Store(tt.rec); err != nil {
				t.Fatal(err)
			}
			app := &countingFSM{}
			f := newFSM(app, snaps, filepath.Join(dir, "tmp"), hclog.NewNullLogger())
			r, err := recoverLocal(recoveryDeps{
				snapshots: snaps, logs: logs, record: record, fsm: f,
				spoolDir: filepath.Join(dir, "tmp"), nodeID: "n1", clusterID: "c1", logger: hclog.NewNullLogger(),
			})
			if err != nil {
				t.Fatalf("recoverLocal: %v", err)
			}
			if r.replayed != tt.wantReplayed || r.persisted != tt.wantApplied {
				t.Fatalf("recovery = %+v, want replayed %d persisted %d", r, tt.wantReplayed, tt.wantApplied)
			}
			if got := f.applied.Index(); got != tt.wantApplied {
				t.Fatalf("applied index = %d, want %d", got, tt.wantApplied)
			}
			if got := app.applied.Load(); got != tt.wantApplied {
				t.Fatalf("application applied %d commands, want %d", got, tt.wantApplied)
			}
			if idx, term := f.position(); tt.wantApplied != 0 && (idx != 7 || term != 2) {
				t.Fatalf("applied position = (%d, %d), want (7, 2)", idx, term)
			}
			if f.skipThrough.Load() != tt.wantApplied {
				t.Fatalf("skipThrough = %d, want %d: raft's re-delivery would apply entries twice", f.skipThrough.Load(), tt.wantApplied)
			}
		})
	}
}
