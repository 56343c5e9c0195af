package raftsync

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/appliedrecord"
	"github.com/raftkit/raftkit/snapshot"
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

// durableLogFSM is a DurableFSM that keeps the data of the commands it
// applies, in order, and the index of every RestoreAt.
type durableLogFSM struct {
	index    uint64
	applied  []string
	restores []uint64
}

func (d *durableLogFSM) Apply(l *raft.Log) any {
	d.applied = append(d.applied, string(l.Data))
	d.index = l.Index
	return nil
}
func (d *durableLogFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, io.EOF }
func (d *durableLogFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }
func (d *durableLogFSM) DurableIndex() (uint64, error)       { return d.index, nil }
func (d *durableLogFSM) RestoreAt(rc io.ReadCloser, index uint64) error {
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return err
	}
	d.restores = append(d.restores, index)
	d.index = index
	return rc.Close()
}

// TestRecoverLocalBridgesADurableFSMFromTheLog runs local recovery alone
// for a durable FSM two entries behind the newest snapshot (index 10, term
// 2). When the log holds those entries and, at index 10, the snapshot's
// term, they are replayed from the log and the snapshot is not restored (a
// restore costs the whole state). When the log's entry at 10 is of another
// term, the log is not the history the snapshot covers, and replaying it
// would build a state the cluster never had: the snapshot is restored.
func TestRecoverLocalBridgesADurableFSMFromTheLog(t *testing.T) {
	tests := []struct {
		name        string
		termAt10    uint64
		wantRestore bool
		wantApplied []string
	}{
		{"the log holds the snapshot's entry", 2, false, []string{"c9", "c10"}},
		{"the log diverges at the snapshot's entry", 3, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o700); err != nil {
				t.Fatal(err)
			}
			logs := raft.NewInmemStore()
			for i := uint64(1); i <= 12; i++ {
				term := uint64(2)
				if i >= 10 {
					term = tt.termAt10
				}
				if err := logs.StoreLog(&raft.Log{Index: i, Term: term, Type: raft.LogCommand, Data: []byte(fmt.Sprintf("c%d", i))}); err != nil {
					t.Fatal(err)
				}
			}
			snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hclog.NewNullLogger())
			if err != nil {
				t.Fatal(err)
			}
			_, trans := raft.NewInmemTransport("")
			sink, err := snaps.Create(raft.SnapshotVersionMax, 10, 2, raft.Configuration{}, 1, trans)
			if err != nil {
				t.Fatal(err)
			}
			w, err := snapshot.NewWriter(sink, snapshot.Header{Index: 10, Term: 2})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte("state at 10")); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := sink.Close(); err != nil {
				t.Fatal(err)
			}
			record := &recordStore{s: recordFile{f: appliedrecord.OpenFile(filepath.Join(dir, recordFileName))}}
			app := &durableLogFSM{index: 8}
			f := newFSM(app, snaps, filepath.Join(dir, "tmp"), hclog.NewNullLogger())
			r, err := recoverLocal(recoveryDeps{
				snapshots: snaps, logs: logs, record: record, fsm: f,
				spoolDir: filepath.Join(dir, "tmp"), nodeID: "n1", clusterID: "c1", logger: hclog.NewNullLogger(),
			})
			if err != nil {
				t.Fatalf("recoverLocal: %v", err)
			}
			if restored := len(app.restores) > 0; restored != tt.wantRestore {
				t.Fatalf("snapshot restored = %v (RestoreAt at %v), want %v", restored, app.restores, tt.wantRestore)
			}
			if !slices.Equal(app.applied, tt.wantApplied) {
				t.Fatalf("replayed commands %q, want %q", app.applied, tt.wantApplied)
			}
			if got := f.applied.Index(); got != 10 {
				t.Fatalf("applied index = %d, want 10 (the snapshot's)", got)
			}
			if !tt.wantRestore && f.skipThrough.Load() != 10 {
				t.Fatalf("skipThrough = %d, want 10: raft's re-delivery would apply entries twice", f.skipThrough.Load())
			}
			if r.snapshotIndex != 10 {
				t.Fatalf("recovery = %+v, want snapshot index 10", r)
			}
		})
	}
}
