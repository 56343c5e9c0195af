package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
)

func TestSetCommandSizeAndParse(t *testing.T) {
	for _, size := range []int{0, 10, 100, 10 << 10} {
		cmd := setCommand("key-1", size)
		if size >= 10 && len(cmd) != size {
			t.Errorf("size %d: command is %d bytes", size, len(cmd))
		}
		k, v, err := parseSet(cmd)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if string(k) != "key-1" {
			t.Errorf("size %d: key %q", size, k)
		}
		if len(k)+len(v)+5 != max(len(cmd), 0) {
			t.Errorf("size %d: key and value do not account for the command", size)
		}
	}
	for _, bad := range [][]byte{nil, []byte("del\x00k"), []byte("set\x00novalue")} {
		if _, _, err := parseSet(bad); !errors.Is(err, errBadCommand) {
			t.Errorf("parseSet(%q) = %v, want errBadCommand", bad, err)
		}
	}
}

// memSink is a raft.SnapshotSink over a buffer.
type memSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Close() error  { return nil }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }

func snapshotBytes(t *testing.T, f raft.FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	return sink.Bytes()
}

func TestMemKVApplySnapshotRestore(t *testing.T) {
	k := newMemKV()
	if resp := k.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: setCommand("a", 20)}); resp != nil {
		t.Fatalf("Apply: %v", resp)
	}
	if resp := k.Apply(&raft.Log{Index: 2, Type: raft.LogCommand, Data: []byte("junk")}); !errors.Is(resp.(error), errBadCommand) {
		t.Fatalf("Apply(junk) = %v", resp)
	}
	if _, ok := k.Get("a"); !ok || k.Last() != 2 || k.Len() != 1 {
		t.Fatalf("after apply: ok=%v last=%d len=%d", ok, k.Last(), k.Len())
	}
	img := snapshotBytes(t, k)
	k2 := newMemKV()
	if err := k2.Restore(io.NopCloser(bytes.NewReader(img))); err != nil {
		t.Fatal(err)
	}
	if v, ok := k2.Get("a"); !ok || k2.Last() != 2 || len(v) != 20-len("set\x00a\x00") {
		t.Fatalf("restored: ok=%v last=%d len(v)=%d", ok, k2.Last(), len(v))
	}
	if err := k2.Restore(io.NopCloser(bytes.NewReader([]byte("{")))); err == nil {
		t.Fatal("Restore accepted a truncated image")
	}
	if _, ok := k2.Get("a"); !ok {
		t.Fatal("a failed Restore changed the state")
	}
}

func TestDurableKVSkipsHeldEntriesAndSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fsm.db")
	k, err := openDurableKV(path)
	if err != nil {
		t.Fatal(err)
	}
	out := k.ApplyBatch([]*raft.Log{
		{Index: 1, Type: raft.LogConfiguration},
		{Index: 2, Type: raft.LogCommand, Data: setCommand("a", 30)},
		{Index: 3, Type: raft.LogCommand, Data: []byte("junk")},
	})
	if out[1] != nil || !errors.Is(out[2].(error), errBadCommand) {
		t.Fatalf("responses %v", out)
	}
	if got, _ := k.DurableIndex(); got != 3 {
		t.Fatalf("DurableIndex = %d, want 3", got)
	}
	// A re-delivered entry is skipped: it must not overwrite "a".
	out = k.ApplyBatch([]*raft.Log{{Index: 2, Type: raft.LogCommand, Data: setCommand("a", 50)}})
	if out[0] != nil {
		t.Fatalf("re-delivered entry answered %v", out[0])
	}
	img := snapshotBytes(t, k)
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}

	k, err = openDurableKV(path)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if k.Last() != 3 {
		t.Fatalf("after reopen Last = %d, want 3", k.Last())
	}
	k2path := filepath.Join(t.TempDir(), "fsm2.db")
	k2, err := openDurableKV(k2path)
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	if err := k2.Restore(io.NopCloser(bytes.NewReader(img))); err != nil {
		t.Fatal(err)
	}
	snap2 := snapshotBytes(t, k2)
	if !bytes.Equal(img, snap2) {
		t.Fatalf("restored store snapshots differently:\n%s\n%s", img, snap2)
	}
	if k2.Last() != 3 {
		t.Fatalf("restored Last = %d", k2.Last())
	}
	// RestoreAt records the index it is given, not the image's.
	if err := k2.RestoreAt(io.NopCloser(bytes.NewReader(img)), 42); err != nil {
		t.Fatal(err)
	}
	if got, _ := k2.DurableIndex(); got != 42 {
		t.Fatalf("after RestoreAt(42) DurableIndex = %d", got)
	}
	if err := k2.RestoreAt(io.NopCloser(bytes.NewReader([]byte("{"))), 50); err == nil {
		t.Fatal("RestoreAt accepted a truncated image")
	}
	if got, _ := k2.DurableIndex(); got != 42 {
		t.Fatalf("a failed RestoreAt moved the index to %d", got)
	}
	var decoded kvImage
	if err := json.Unmarshal(img, &decoded); err != nil {
		t.Fatal(err)
	}
	if got, want := len(decoded.Data["a"]), 30-len("set\x00a\x00"); got != want || len(decoded.Data) != 1 {
		t.Fatalf("snapshot holds %d keys and a value of %d bytes for a, want 1 key of %d bytes (the first write)", len(decoded.Data), got, want)
	}
}
