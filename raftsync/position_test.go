package raftsync

import (
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

type nopFSM struct{}

func (nopFSM) Apply(*raft.Log) any                 { return nil }
func (nopFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, io.EOF }
func (nopFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

// TestAppliedPositionIsNeverTorn applies entries whose term equals their
// index on one goroutine while others read the applied position the way
// the persister does. Every pair read must be one the FSM held: an index
// with the term of another entry would make a record that restart refuses.
func TestAppliedPositionIsNeverTorn(t *testing.T) {
	f := newFSM(nopFSM{}, nil, t.TempDir(), hclog.NewNullLogger())
	const entries = 100_000
	done := make(chan struct{})
	var wg sync.WaitGroup
	torn := make(chan [2]uint64, 1)
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if idx, term := f.position(); idx != term {
					select {
					case torn <- [2]uint64{idx, term}:
					default:
					}
					return
				}
			}
		}()
	}
	l := &raft.Log{Type: raft.LogCommand}
	batch := []*raft.Log{l}
	for i := uint64(1); i <= entries; i++ {
		l.Index, l.Term = i, i
		f.ApplyBatch(batch)
		if len(torn) > 0 {
			break
		}
	}
	close(done)
	wg.Wait()
	select {
	case p := <-torn:
		t.Fatalf("read applied position (index %d, term %d): a pair no entry had", p[0], p[1])
	default:
	}
}

// TestRecordRefusesAPositionTheLogContradicts: the persister checks the
// applied position against the log before it writes a record, takes the
// log's term when the position's is unknown, and writes the position's own
// term only for an index the log no longer holds.
func TestRecordRefusesAPositionTheLogContradicts(t *testing.T) {
	logs := raft.NewInmemStore()
	if err := logs.StoreLogs([]*raft.Log{{Index: 5, Term: 2}, {Index: 6, Term: 3}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		index, term uint64
		wantTerm    uint64
		wantErr     error
	}{
		{name: "matches the log", index: 6, term: 3, wantTerm: 3},
		{name: "torn: another entry's term", index: 5, term: 3, wantErr: errPositionMismatch},
		{name: "unknown term takes the log's", index: 5, term: 0, wantTerm: 2},
		{name: "compacted entry keeps its own term", index: 4, term: 1, wantTerm: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := appliedRecordFor("n1", "c1", tt.index, tt.term, logTermAt(logs, tt.index))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("record(%d, %d) error = %v, want %v", tt.index, tt.term, err, tt.wantErr)
			}
			if err == nil && (rec.Index != tt.index || rec.Term != tt.wantTerm || rec.NodeID != "n1" || rec.ClusterID != "c1") {
				t.Fatalf("record(%d, %d) = %+v, want index %d term %d", tt.index, tt.term, rec, tt.index, tt.wantTerm)
			}
		})
	}
}
