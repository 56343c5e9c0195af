package faultsuite

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

type sink struct {
	bytes.Buffer
	cancelled bool
}

func (s *sink) ID() string    { return "test" }
func (s *sink) Cancel() error { s.cancelled = true; return nil }
func (s *sink) Close() error  { return nil }

func TestFSMSnapshotRoundTrip(t *testing.T) {
	f := fsmWith(map[uint64]Entry{3: {"a", "1"}, 5: {"b", "2"}, 8: {"a", "3"}})
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var s sink
	if err := snap.Persist(&s); err != nil {
		t.Fatal(err)
	}
	g := NewFSM()
	if err := g.Restore(io.NopCloser(bytes.NewReader(s.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if g.Digest() != f.Digest() || g.Last() != 8 {
		t.Fatalf("restored %s (last %d), want %s (last 8)", g.Digest(), g.Last(), f.Digest())
	}
	if v, idx := g.Read("a"); v != "3" || idx != 8 {
		t.Fatalf("Read(a) = %q at %d", v, idx)
	}
}

func TestFSMRestoreOfGarbageChangesNothing(t *testing.T) {
	f := fsmWith(map[uint64]Entry{3: {"a", "1"}})
	before := f.Digest()
	if err := f.Restore(io.NopCloser(bytes.NewReader([]byte("{not json")))); err == nil {
		t.Fatal("Restore accepted garbage")
	}
	if f.Digest() != before {
		t.Fatal("a failed Restore changed the state")
	}
}

func TestFSMRecordsAnomalies(t *testing.T) {
	f := NewFSM()
	f.Apply(&raft.Log{Index: 4, Data: WriteCommand("k", "v")})
	f.Apply(&raft.Log{Index: 4, Data: WriteCommand("k", "v")})
	f.Apply(&raft.Log{Index: 5, Data: []byte("nonsense")})
	if a := f.Anomalies(); !bytes.Contains([]byte(a), []byte("[4]")) || !bytes.Contains([]byte(a), []byte("unparseable commands at [5]")) {
		t.Fatalf("Anomalies() = %q", a)
	}
}

func entries(from, n int) []*raft.Log {
	var out []*raft.Log
	for i := range n {
		out = append(out, &raft.Log{Index: uint64(from + i), Term: 1, Type: raft.LogCommand, Data: []byte{byte(i)}})
	}
	return out
}

func TestDiskFailWritesStoresNothing(t *testing.T) {
	d := NewDisk(1)
	inner := raft.NewInmemStore()
	logs := d.WrapLogStore(inner)
	d.Set(DiskFailWrites, 0)
	err := logs.StoreLogs(entries(1, 3))
	if !errors.Is(err, ErrInjected) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("StoreLogs on a full disk: %v, want ErrInjected and ENOSPC", err)
	}
	if last, _ := inner.LastIndex(); last != 0 {
		t.Fatalf("a failed write stored up to %d", last)
	}
	if err := logs.DeleteRange(1, 2); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("DeleteRange on a full disk: %v", err)
	}
	d.Set(DiskOK, 0)
	if err := logs.StoreLogs(entries(1, 3)); err != nil {
		t.Fatalf("after space returned: %v", err)
	}
	if st := d.Stats(); st.Failed != 2 {
		t.Fatalf("Stats %+v, want 2 failures", st)
	}
}

func TestDiskPartialWritesStoreAPrefix(t *testing.T) {
	d := NewDisk(2)
	d.Set(DiskPartialWrites, 0)
	sawPrefix, sawAll := false, false
	for range 50 {
		inner := raft.NewInmemStore()
		err := d.WrapLogStore(inner).StoreLogs(entries(1, 4))
		if !errors.Is(err, syscall.EIO) {
			t.Fatalf("partial write: %v, want EIO", err)
		}
		last, _ := inner.LastIndex()
		for i := uint64(1); i <= last; i++ {
			var l raft.Log
			if inner.GetLog(i, &l) != nil {
				t.Fatalf("stored entries are not a prefix: %d missing below %d", i, last)
			}
		}
		sawPrefix = sawPrefix || (last > 0 && last < 4)
		sawAll = sawAll || last == 4
	}
	if !sawPrefix || !sawAll {
		t.Fatalf("over 50 partial writes: a strict prefix stored %v, all stored (fsync error after the write) %v", sawPrefix, sawAll)
	}
}

func TestDiskRefusesOnlyVotes(t *testing.T) {
	d := NewDisk(3)
	inner := raft.NewInmemStore()
	st := d.WrapStableStore(inner)
	d.Set(DiskRefuseVotes, 0)
	if err := st.SetUint64([]byte("LastVoteTerm"), 3); !errors.Is(err, ErrInjected) {
		t.Fatalf("vote term stored on a vote-refusing disk: %v", err)
	}
	if err := st.Set([]byte("LastVoteCand"), []byte("x")); !errors.Is(err, ErrInjected) {
		t.Fatalf("vote candidate stored on a vote-refusing disk: %v", err)
	}
	if err := st.SetUint64([]byte("CurrentTerm"), 3); err != nil {
		t.Fatalf("current term refused (raft would panic): %v", err)
	}
	if v, _ := inner.GetUint64([]byte("LastVoteTerm")); v != 0 {
		t.Fatal("a refused vote reached the store")
	}
}

func TestDiskSlowWritesStillWrite(t *testing.T) {
	d := NewDisk(4)
	inner := raft.NewInmemStore()
	d.Set(DiskSlowWrites, time.Millisecond)
	if err := d.WrapLogStore(inner).StoreLogs(entries(1, 2)); err != nil {
		t.Fatal(err)
	}
	if err := d.WrapStableStore(inner).SetUint64([]byte("CurrentTerm"), 2); err != nil {
		t.Fatal(err)
	}
	if last, _ := inner.LastIndex(); last != 2 || d.Stats().Stalled != 2 {
		t.Fatalf("last %d, stats %+v; want both writes done and counted", last, d.Stats())
	}
}

func TestDiskSetRefusesBadInput(t *testing.T) {
	d := NewDisk(5)
	d.Set(DiskSlowWrites, time.Millisecond)
	if err := d.Set(DiskMode(42), 0); err == nil {
		t.Fatal("unknown mode accepted")
	}
	if err := d.Set(DiskOK, -time.Second); err == nil {
		t.Fatal("negative stall accepted")
	}
	if d.Mode() != DiskSlowWrites {
		t.Fatalf("bad input changed the mode to %v", d.Mode())
	}
}

func TestGenerateIsAPureFunctionOfTheSeed(t *testing.T) {
	for seed := int64(1); seed < 50; seed++ {
		if a, b := Generate(seed), Generate(seed); !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d gave two schedules:\n%s\n%s", seed, a, b)
		}
	}
	if reflect.DeepEqual(Generate(1), Generate(2)) {
		t.Fatal("seeds 1 and 2 gave the same schedule")
	}
}

func TestGeneratedSchedulesAreValid(t *testing.T) {
	for seed := int64(1); seed <= 2000; seed++ {
		if err := Generate(seed).Validate(); err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, Generate(seed))
		}
	}
}

func FuzzGenerate(f *testing.F) {
	f.Add(int64(0))
	f.Add(int64(-1))
	f.Add(int64(1) << 62)
	f.Fuzz(func(t *testing.T, seed int64) {
		if err := Generate(seed).Validate(); err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, Generate(seed))
		}
	})
}

func TestValidateRefusesBadSchedules(t *testing.T) {
	good := Generate(94)
	for name, mutate := range map[string]func(*Schedule){
		"one member":      func(s *Schedule) { s.Voters, s.NonVoters = 1, 0 },
		"no keys":         func(s *Schedule) { s.Keys = 0 },
		"no window":       func(s *Schedule) { s.Window = 0 },
		"unknown kind":    func(s *Schedule) { s.Events[0].Kind = "meteor" },
		"past the window": func(s *Schedule) { s.Events[0].For = s.Window },
		"missing member":  func(s *Schedule) { s.Events[0].Nodes = []int{7} },
		"short crash":     func(s *Schedule) { s.Events = []Event{{Kind: Crash, Nodes: []int{0}, For: time.Millisecond}} },
		"block to itself": func(s *Schedule) { s.Events = []Event{{Kind: Block, Nodes: []int{1}, Peer: 1, For: time.Second}} },
		"whole partition": func(s *Schedule) { s.Events = []Event{{Kind: Partition, Nodes: []int{0, 1, 2}, For: time.Second}} },
		"rate of zero":    func(s *Schedule) { s.Events = []Event{{Kind: Flaky, Nodes: []int{0}, For: time.Second}} },
		"overlap in a kind": func(s *Schedule) {
			s.Events = []Event{{Kind: Pause, Nodes: []int{0}, For: time.Second}, {Kind: Stall, Nodes: []int{0}, Peer: 1, At: time.Millisecond, For: time.Second}}
		},
	} {
		s := Generate(94)
		s.Events = append([]Event(nil), s.Events...)
		mutate(&s)
		if err := s.Validate(); err == nil {
			t.Errorf("%s: accepted\n%s", name, s)
		}
	}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
}
