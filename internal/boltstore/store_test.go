package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

func open(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// entries returns n entries from first on, of every shape raft writes:
// commands with and without data and extensions, configurations,
// barriers, with and without an AppendedAt.
func entries(first uint64, n int) []*raft.Log {
	at := time.Date(2026, 12, 3, 15, 4, 5, 123456789, time.UTC)
	var logs []*raft.Log
	for i := range n {
		l := &raft.Log{Index: first + uint64(i), Term: 3 + uint64(i)/7, Type: raft.LogCommand, Data: []byte(fmt.Sprintf("command %d", i))}
		switch i % 5 {
		case 1:
			l.Extensions = []byte{0, 1, 2, byte(i)}
		case 2:
			l.Type = raft.LogConfiguration
			l.Data = bytes.Repeat([]byte{byte(i)}, 300+i)
		case 3:
			l.Type, l.Data = raft.LogBarrier, nil
		case 4:
			l.Data = bytes.Repeat([]byte("x"), 5000) // past the encoder's first buffer
		}
		if i%2 == 0 {
			l.AppendedAt = at.Add(time.Duration(i) * time.Millisecond)
		}
		logs = append(logs, l)
	}
	return logs
}

// sameLog compares what raft reads back: AppendedAt by instant (a
// decoded time has no monotonic reading and may differ in location).
func sameLog(t *testing.T, want, got *raft.Log) {
	t.Helper()
	w, g := *want, *got
	if !w.AppendedAt.Equal(g.AppendedAt) {
		t.Fatalf("index %d: AppendedAt %v, want %v", w.Index, g.AppendedAt, w.AppendedAt)
	}
	w.AppendedAt, g.AppendedAt = time.Time{}, time.Time{}
	if len(w.Data) == 0 && len(g.Data) == 0 {
		w.Data, g.Data = nil, nil
	}
	if len(w.Extensions) == 0 && len(g.Extensions) == 0 {
		w.Extensions, g.Extensions = nil, nil
	}
	if !reflect.DeepEqual(w, g) {
		t.Fatalf("index %d: read %+v, want %+v", w.Index, g, w)
	}
}

// rawValues returns the bytes stored for every entry of the file at path.
func rawValues(t *testing.T, path string) map[string][]byte {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	vals := map[string][]byte{}
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketLogs).ForEach(func(k, v []byte) error {
			vals[string(k)] = append([]byte(nil), v...)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return vals
}

// The same entries stored by raft-boltdb and by this package are the same
// bytes under the same keys, and each reads the other's file.
func TestFormatIsRaftBoltDBs(t *testing.T) {
	dir := t.TempDir()
	theirsPath, oursPath := filepath.Join(dir, "theirs.db"), filepath.Join(dir, "ours.db")
	logs := entries(1, 40)

	theirs, err := raftboltdb.New(raftboltdb.Options{Path: theirsPath})
	if err != nil {
		t.Fatal(err)
	}
	ours, err := Open(Options{Path: oursPath})
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range [][]*raft.Log{logs[:1], logs[1:17], logs[17:]} {
		if err := theirs.StoreLogs(batch); err != nil {
			t.Fatal(err)
		}
		if err := ours.StoreLogs(batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := theirs.SetUint64([]byte("CurrentTerm"), 9); err != nil {
		t.Fatal(err)
	}
	if err := ours.SetUint64([]byte("CurrentTerm"), 9); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	ours.Close()

	want, got := rawValues(t, theirsPath), rawValues(t, oursPath)
	if len(want) != len(logs) || len(got) != len(logs) {
		t.Fatalf("%d entries in raft-boltdb's file, %d in ours; want %d", len(want), len(got), len(logs))
	}
	for k, w := range want {
		if !bytes.Equal(got[k], w) {
			t.Fatalf("entry %x: stored %x, raft-boltdb stores %x", k, got[k], w)
		}
	}

	// Each reads the other's file.
	theirs, err = raftboltdb.New(raftboltdb.Options{Path: oursPath})
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()
	ours = open(t, theirsPath)
	for _, l := range logs {
		var a, b raft.Log
		if err := theirs.GetLog(l.Index, &a); err != nil {
			t.Fatal(err)
		}
		if err := ours.GetLog(l.Index, &b); err != nil {
			t.Fatal(err)
		}
		sameLog(t, l, &a)
		sameLog(t, l, &b)
	}
	for name, s := range map[string]raft.StableStore{"raft-boltdb": theirs, "ours": ours} {
		if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 9 {
			t.Fatalf("%s reads CurrentTerm %d, %v; want 9", name, v, err)
		}
	}
}

func TestLogStore(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "raft.db"))
	index := func(f func() (uint64, error)) uint64 {
		t.Helper()
		i, err := f()
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	if first, last := index(s.FirstIndex), index(s.LastIndex); first != 0 || last != 0 {
		t.Fatalf("empty log: first %d last %d, want 0 0", first, last)
	}
	var l raft.Log
	if err := s.GetLog(1, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog on an empty log: %v, want raft.ErrLogNotFound", err)
	}

	logs := entries(10, 30)
	if err := s.StoreLog(logs[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs(logs[1:]); err != nil {
		t.Fatal(err)
	}
	if first, last := index(s.FirstIndex), index(s.LastIndex); first != 10 || last != 39 {
		t.Fatalf("first %d last %d, want 10 39", first, last)
	}
	for _, w := range logs {
		var got raft.Log
		if err := s.GetLog(w.Index, &got); err != nil {
			t.Fatal(err)
		}
		sameLog(t, w, &got)
	}

	// An entry stored again at an index it holds replaces the old one
	// (raft's truncation of a conflicting tail relies on it).
	repl := &raft.Log{Index: 39, Term: 99, Type: raft.LogCommand, Data: []byte("replacement")}
	if err := s.StoreLogs([]*raft.Log{repl}); err != nil {
		t.Fatal(err)
	}
	var got raft.Log
	if err := s.GetLog(39, &got); err != nil {
		t.Fatal(err)
	}
	sameLog(t, repl, &got)

	if err := s.DeleteRange(10, 14); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(35, 1000); err != nil {
		t.Fatal(err)
	}
	if first, last := index(s.FirstIndex), index(s.LastIndex); first != 15 || last != 34 {
		t.Fatalf("after deletes: first %d last %d, want 15 34", first, last)
	}
	for _, i := range []uint64{10, 14, 35, 39} {
		if err := s.GetLog(i, &got); !errors.Is(err, raft.ErrLogNotFound) {
			t.Fatalf("GetLog(%d) after its delete: %v, want raft.ErrLogNotFound", i, err)
		}
	}
	for _, w := range logs[5:25] {
		if err := s.GetLog(w.Index, &got); err != nil {
			t.Fatal(err)
		}
		sameLog(t, w, &got)
	}
}

func TestStableStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := open(t, path)
	if _, err := s.Get([]byte("k")); !errors.Is(err, ErrKeyNotFound) || err.Error() != "not found" {
		// raft reads a new node's term through the text "not found".
		t.Fatalf("Get of a missing key: %v; want ErrKeyNotFound with the text \"not found\"", err)
	}
	if _, err := s.GetUint64([]byte("k")); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("GetUint64 of a missing key: %v", err)
	}
	if err := s.Set([]byte("k"), []byte("value")); err != nil {
		t.Fatal(err)
	}
	v, err := s.Get([]byte("k"))
	if err != nil || string(v) != "value" {
		t.Fatalf("Get: %q, %v", v, err)
	}
	v[0] = 'X' // a copy: the stored value is unchanged
	if v, _ := s.Get([]byte("k")); string(v) != "value" {
		t.Fatalf("the stored value changed with the returned slice: %q", v)
	}
	if _, err := s.GetUint64([]byte("k")); err == nil {
		t.Fatal("GetUint64 of a 5-byte value did not fail")
	}
	if err := s.SetUint64([]byte("n"), 1<<40+7); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, path)
	if n, err := s.GetUint64([]byte("n")); err != nil || n != 1<<40+7 {
		t.Fatalf("GetUint64 after reopening: %d, %v", n, err)
	}
}

// The buffer StoreLogs reuses is never one bbolt still reads: entries
// of earlier calls read back unchanged after later calls, and entries
// read before a write do not change with it.
func TestReusedBufferCorruptsNothing(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "raft.db"))
	logs := entries(1, 200)
	var held []*raft.Log
	for i := 0; i < len(logs); i += 9 {
		batch := logs[i:min(i+9, len(logs))]
		if err := s.StoreLogs(batch); err != nil {
			t.Fatal(err)
		}
		var got raft.Log
		if err := s.GetLog(batch[0].Index, &got); err != nil {
			t.Fatal(err)
		}
		held = append(held, &got)
	}
	for _, w := range logs {
		var got raft.Log
		if err := s.GetLog(w.Index, &got); err != nil {
			t.Fatal(err)
		}
		sameLog(t, w, &got)
	}
	for i, h := range held {
		sameLog(t, logs[i*9], h)
	}
}

// Readers and writers at once, as raft's replication and its log writer
// run (meant for -race).
func TestConcurrentUse(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "raft.db"))
	logs := entries(1, 400)
	if err := s.StoreLogs(logs[:100]); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 100; i < len(logs); i += 10 {
			if err := s.StoreLogs(logs[i : i+10]); err != nil {
				errs <- err
				return
			}
		}
	}()
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				w := logs[(i*7+r)%100]
				var got raft.Log
				if err := s.GetLog(w.Index, &got); err != nil {
					errs <- err
					return
				}
				if got.Index != w.Index || !bytes.Equal(got.Data, w.Data) {
					errs <- fmt.Errorf("read index %d data %q, want index %d", got.Index, got.Data, w.Index)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// A value that is not an entry is an error, not a panic.
func TestCorruptEntryIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s := open(t, path)
	if err := s.StoreLogs(entries(1, 3)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{{0xc1}, {0x85, 0xa5}, bytes.Repeat([]byte{0xdd}, 16), {0xdb, 0xff, 0xff, 0xff, 0xff}} {
		err := s.db.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketLogs).Put([]byte{0, 0, 0, 0, 0, 0, 0, 2}, bad)
		})
		if err != nil {
			t.Fatal(err)
		}
		var l raft.Log
		if err := s.GetLog(2, &l); err == nil {
			t.Fatalf("GetLog of the value %x: no error", bad)
		}
	}
	var l raft.Log
	if err := s.GetLog(3, &l); err != nil {
		t.Fatalf("a neighbour of the corrupt entry: %v", err)
	}
}

func BenchmarkStoreLogs(b *testing.B) {
	for _, batch := range []int{1, 64} {
		logs := entries(1, batch)
		run := func(b *testing.B, store func([]*raft.Log) error) {
			b.ReportAllocs()
			next := uint64(1)
			for b.Loop() {
				for _, l := range logs {
					l.Index = next
					next++
				}
				if err := store(logs); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.Run(fmt.Sprintf("boltstore/batch=%d", batch), func(b *testing.B) {
			s, err := Open(Options{Path: filepath.Join(b.TempDir(), "raft.db"), NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			run(b, s.StoreLogs)
		})
		b.Run(fmt.Sprintf("raftboltdb/batch=%d", batch), func(b *testing.B) {
			s, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(b.TempDir(), "raft.db"), NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			run(b, s.StoreLogs)
		})
	}
}
