package walstore_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"go.uber.org/goleak"

	"github.com/raftkit/raftkit/walstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func entries(from, to uint64) []*raft.Log {
	var out []*raft.Log
	for i := from; i <= to; i++ {
		out = append(out, &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: []byte{byte(i)}})
	}
	return out
}

// openBounded opens dir, failing the test instead of hanging if the meta
// database of an earlier Store is still locked.
func openBounded(t *testing.T, dir string) *walstore.Store {
	t.Helper()
	type result struct {
		s   *walstore.Store
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := walstore.Open(dir, hclog.NewNullLogger())
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.s
	case <-time.After(10 * time.Second):
		t.Fatal("Open blocked: an earlier Store's meta database is still open")
		return nil
	}
}

func TestReopenInSameProcessKeepsTheLog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal") // Open creates it
	s := openBounded(t, dir)
	if err := s.StoreLogs(entries(1, 10)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s = openBounded(t, dir)
	defer s.Close()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if first != 1 || last != 10 {
		t.Fatalf("reopened log spans %d..%d, want 1..10", first, last)
	}
	var l raft.Log
	if err := s.GetLog(7, &l); err != nil || l.Data[0] != 7 {
		t.Fatalf("GetLog(7) = %v, %+v", err, l)
	}
	if !s.IsMonotonic() {
		t.Fatal("the WAL must tell raft it accepts no gaps")
	}
}

// TestTailTruncationSurvivesReopen: raft truncates a follower's log tail
// when a new leader's entries conflict with it. raft-wal v0.4.0 marked the
// truncated tail segment sealed without writing its index, and after a
// reopen every entry before the truncation was unreadable ("sealed segment
// has no index block"); v0.4.1 fixed it.
func TestTailTruncationSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := openBounded(t, dir)
	if err := s.StoreLogs(entries(1, 10)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(8, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs(entries(8, 12)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openBounded(t, dir)
	defer s.Close()
	for i := uint64(1); i <= 12; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil || l.Index != i {
			t.Fatalf("GetLog(%d) after a tail truncation and a reopen = %v, index %d", i, err, l.Index)
		}
	}
}

// TestFactory: the factory opens the WAL in the directory it is given,
// as a store that accepts no gaps and that the node can close, and on
// error returns no store at all (not a nil *Store in an interface).
func TestFactory(t *testing.T) {
	var f walstore.Factory
	if f.Name() != walstore.Name || walstore.Name != "wal" {
		t.Fatalf("Name() = %q, walstore.Name = %q", f.Name(), walstore.Name)
	}
	dir := filepath.Join(t.TempDir(), "wal")
	s, err := f.Open(dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := s.(raft.MonotonicLogStore); !ok || !m.IsMonotonic() {
		t.Fatal("the factory's store does not tell raft it accepts no gaps")
	}
	c, ok := s.(io.Closer)
	if !ok {
		t.Fatal("the factory's store has no Close: the node could not close it")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the factory did not create %s: %v", dir, err)
	}

	blocked := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = f.Open(filepath.Join(blocked, "wal"), hclog.NewNullLogger())
	if err == nil || s != nil {
		t.Fatalf("Open under a file = %v, %v; want an error and no store", s, err)
	}
}
