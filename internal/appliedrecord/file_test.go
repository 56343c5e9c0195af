package appliedrecord_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/raftkit/raftkit/internal/appliedrecord"
)

func TestRecordFileStoreThenLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "applied")
	f := appliedrecord.OpenFile(path)
	if _, err := f.Load(); !errors.Is(err, appliedrecord.ErrNoRecord) {
		t.Fatalf("Load before any Store: err = %v, want ErrNoRecord", err)
	}
	for _, idx := range []uint64{1, 1024, 7, 1 << 50} {
		want := appliedrecord.Record{NodeID: "gw-1", ClusterID: "c", Index: idx, Term: 2}
		if err := f.Store(want); err != nil {
			t.Fatalf("Store(%d): %v", idx, err)
		}
		got, err := appliedrecord.OpenFile(path).Load()
		if err != nil || got != want {
			t.Fatalf("Load after Store(%d) = %+v, %v; want %+v", idx, got, err, want)
		}
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Store left %s.tmp behind (stat err %v)", path, err)
	}
}

// TestRecordFileAfterCrash lays out the files a crash can leave at each step
// of Store and checks that Load returns the old or the new record, or a
// clear error, and never a wrong index.
func TestRecordFileAfterCrash(t *testing.T) {
	oldRec := appliedrecord.Record{NodeID: "gw-1", ClusterID: "c", Index: 100, Term: 2}
	newRec := appliedrecord.Record{NodeID: "gw-1", ClusterID: "c", Index: 200, Term: 2}
	oldBytes, newBytes := mustMarshal(t, oldRec), mustMarshal(t, newRec)
	tests := []struct {
		name    string
		main    []byte // nil: no main file
		tmp     []byte // nil: no tmp file
		want    appliedrecord.Record
		wantErr error
	}{
		{"crash while writing tmp, first store", nil, newBytes[:5], appliedrecord.Record{}, appliedrecord.ErrNoRecord},
		{"crash after writing tmp, first store", nil, newBytes, appliedrecord.Record{}, appliedrecord.ErrNoRecord},
		{"crash while writing tmp", oldBytes, newBytes[:9], oldRec, nil},
		{"crash before rename", oldBytes, newBytes, oldRec, nil},
		{"crash after rename", newBytes, nil, newRec, nil},
		{"garbage tmp left over", oldBytes, []byte("garbage"), oldRec, nil},
		{"empty main file", []byte{}, nil, appliedrecord.Record{}, appliedrecord.ErrCorruptRecord},
		{"garbage main file", []byte("not a record at all"), nil, appliedrecord.Record{}, appliedrecord.ErrCorruptRecord},
		{"huge main file", make([]byte, 1<<20), nil, appliedrecord.Record{}, appliedrecord.ErrCorruptRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "applied")
			if tt.main != nil {
				writeFile(t, path, tt.main)
			}
			if tt.tmp != nil {
				writeFile(t, path+".tmp", tt.tmp)
			}
			got, err := appliedrecord.OpenFile(path).Load()
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || got != (appliedrecord.Record{}) {
					t.Fatalf("Load = %+v, %v; want %v and no record", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Load = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestRecordFileTornMainFileNeverGivesAnIndex(t *testing.T) {
	b := mustMarshal(t, appliedrecord.Record{NodeID: "gw-1", ClusterID: "c", Index: 987654, Term: 9})
	path := filepath.Join(t.TempDir(), "applied")
	f := appliedrecord.OpenFile(path)
	for n := 0; n < len(b); n++ {
		writeFile(t, path, b[:n])
		if r, err := f.Load(); !errors.Is(err, appliedrecord.ErrCorruptRecord) || r.Index != 0 {
			t.Fatalf("main file torn at %d of %d bytes: Load = %+v, %v; want ErrCorruptRecord", n, len(b), r, err)
		}
	}
}

func TestRecordFileFailedStoreKeepsOldRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "applied")
	f := appliedrecord.OpenFile(path)
	oldRec := appliedrecord.Record{NodeID: "gw-1", ClusterID: "c", Index: 5, Term: 1}
	if err := f.Store(oldRec); err != nil {
		t.Fatal(err)
	}
	t.Run("invalid record", func(t *testing.T) {
		err := f.Store(appliedrecord.Record{NodeID: strings.Repeat("x", 5000), Index: 6})
		if !errors.Is(err, appliedrecord.ErrInvalidRecord) {
			t.Fatalf("Store: err = %v, want ErrInvalidRecord", err)
		}
		if got, err := f.Load(); err != nil || got != oldRec {
			t.Fatalf("Load after refused Store = %+v, %v; want %+v", got, err, oldRec)
		}
	})
	t.Run("temporary file cannot be written", func(t *testing.T) {
		if err := os.Mkdir(path+".tmp", 0o755); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path + ".tmp")
		if err := f.Store(appliedrecord.Record{NodeID: "gw-1", ClusterID: "c", Index: 6, Term: 1}); err == nil {
			t.Fatal("Store succeeded although its temporary path is a directory")
		}
		if got, err := f.Load(); err != nil || got != oldRec {
			t.Fatalf("Load after failed Store = %+v, %v; want %+v", got, err, oldRec)
		}
	})
	t.Run("empty path", func(t *testing.T) {
		empty := appliedrecord.OpenFile("")
		if err := empty.Store(oldRec); err == nil {
			t.Fatal("Store with an empty path succeeded")
		}
		if _, err := empty.Load(); err == nil || errors.Is(err, appliedrecord.ErrNoRecord) {
			t.Fatalf("Load with an empty path: err = %v, want a path error", err)
		}
	})
}

func TestRecordFileConcurrentStoresLeaveOneWholeRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "applied")
	f := appliedrecord.OpenFile(path)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.Store(appliedrecord.Record{NodeID: "gw-1", ClusterID: "c", Index: uint64(i + 1), Term: 1}); err != nil {
				t.Errorf("Store: %v", err)
			}
		}()
	}
	wg.Wait()
	got, err := f.Load()
	if err != nil || got.Index < 1 || got.Index > 8 {
		t.Fatalf("Load after concurrent Stores = %+v, %v; want one of the stored records", got, err)
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
