package main

import (
	"io"
	"slices"
	"testing"
	"time"

	"github.com/raftkit/raftkit/walstore"
)

func TestFlagDefaults(t *testing.T) {
	full, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	quick, err := parseFlags([]string{"-quick"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if full.reps != 3 || quick.reps != 1 {
		t.Errorf("reps full %d quick %d", full.reps, quick.reps)
	}
	if !slices.Equal(full.writers, []int{1, 16, 64, 256}) || !slices.Equal(quick.writers, []int{1, 64}) {
		t.Errorf("writers full %v quick %v", full.writers, quick.writers)
	}
	if !slices.Equal(full.sizes, []int{10000, 100000}) || !slices.Equal(quick.sizes, []int{10000}) {
		t.Errorf("sizes full %v quick %v", full.sizes, quick.sizes)
	}
	if quick.duration >= full.duration || quick.duration <= 0 {
		t.Errorf("durations full %v quick %v", full.duration, quick.duration)
	}
	if full.has("sweep") || !full.has("restart") || !full.runs("etcd") {
		t.Errorf("default scenarios %v systems %v", full.scenarios, full.systems)
	}
	o, err := parseFlags([]string{"-quick", "-reps", "2", "-duration", "50ms", "-writers", "3", "-rec", "batch=true,maxappend=256,persist-entries=64"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.reps != 2 || o.duration != 50*time.Millisecond || !slices.Equal(o.writers, []int{3}) {
		t.Errorf("explicit flags lost: %+v", o)
	}
	if !o.hasRec || !o.rec.BatchApplyCh || o.rec.MaxAppendEntries != 256 || o.rec.Persist.EveryEntries != 64 {
		t.Errorf("-rec parsed as %+v", o.rec)
	}
	o, err = parseFlags([]string{"-rec", "wal=true"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !o.rec.WAL || o.rec.logStore() != (walstore.Factory{}) {
		t.Errorf("-rec wal=true parsed as %+v", o.rec)
	}
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-scenarios", "writes,bogus"},
		{"-systems", "zookeeper"},
		{"-reps", "-1"},
		{"-writers", "0"},
		{"-writers", "a"},
		{"-duration", "-1s"},
		{"-rec", "maxappend=5000"},
		{"-rec", "batch"},
		{"-rec", "colour=blue"},
		{"-rec", "wal=maybe"},
		{"-rec", "persist-interval=-1s"},
		{"-sweep", "turbo"},
		{"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted bad input", args)
		}
	}
}
