package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestFigureStatistics(t *testing.T) {
	fs := newFigures()
	for _, v := range []float64{30, 10, 20} {
		fs.add("writes.leader.w1.tput", "raftkit", "ops/s", v)
	}
	f := fs.get("writes.leader.w1.tput", "raftkit")
	if f.median() != 20 || f.min() != 10 || f.max() != 30 {
		t.Fatalf("median/min/max = %v/%v/%v", f.median(), f.min(), f.max())
	}
	fs.add("x", "raftkit", "s", 1)
	fs.add("x", "raftkit", "s", 4)
	if m := fs.get("x", "raftkit").median(); m != 2.5 {
		t.Fatalf("even median = %v", m)
	}
	if fs.get("x", "etcd") != nil {
		t.Fatal("get invented a figure")
	}
}

func TestRatioDirection(t *testing.T) {
	fs := newFigures()
	fs.add("w.tput", "raftkit", "ops/s", 900)
	fs.add("w.tput", "etcd", "ops/s", 1000)
	fs.add("w.p50", "raftkit", "ms", 2)
	fs.add("w.p50", "etcd", "ms", 1)
	fs.add("w.p50", "bareraft", "ms", 0)
	if r, ok := fs.ratio("w.tput", "raftkit", "etcd"); !ok || r != 0.9 {
		t.Errorf("rate ratio = %v, %v; want 0.9 (library/peer)", r, ok)
	}
	if r, ok := fs.ratio("w.p50", "raftkit", "etcd"); !ok || r != 0.5 {
		t.Errorf("time ratio = %v, %v; want 0.5 (peer/library: the library is slower)", r, ok)
	}
	if _, ok := fs.ratio("w.p50", "raftkit", "bareraft"); ok {
		t.Error("a zero figure gave a ratio")
	}
	if _, ok := fs.ratio("w.tput", "raftkit", "bareraft"); ok {
		t.Error("a missing figure gave a ratio")
	}
}

func TestMachineReadableLines(t *testing.T) {
	fs := newFigures()
	fs.add("writes.leader.w1.tput", "raftkit", "ops/s", 800)
	fs.add("writes.leader.w1.tput", "bareraft", "ops/s", 1000)
	fs.add("writes.leader.w1.tput", "etcd", "ops/s", 400)
	fs.add("restart.log-entries.mem.10k", "raftkit", "entries", 10)
	fs.add("restart.log-entries.mem.10k", "bareraft", "entries", 20)
	var b bytes.Buffer
	fs.writeLines(&b)
	want := strings.Join([]string{
		"BENCH writes.leader.w1.tput raftkit 800.0 ops/s",
		"BENCH writes.leader.w1.tput bareraft 1000 ops/s",
		"BENCH writes.leader.w1.tput etcd 400.0 ops/s",
		"BENCH restart.log-entries.mem.10k raftkit 10.00 entries",
		"BENCH restart.log-entries.mem.10k bareraft 20.00 entries",
		"RATIO writes.leader.w1.tput:raftkit/bareraft 0.800",
		"RATIO writes.leader.w1.tput:raftkit/etcd 2.000",
		"",
	}, "\n")
	if b.String() != want {
		t.Fatalf("lines:\n%s\nwant:\n%s", b.String(), want)
	}
	var tbl bytes.Buffer
	fs.writeTable(&tbl)
	for _, s := range []string{"## writes", "## restart", "raftkit", "bareraft", "800.0"} {
		if !strings.Contains(tbl.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, tbl.String())
		}
	}
}

// A paired ratio pairs values by repetition: its median differs from the
// ratio of the medians when the sides moved together, as they do on a
// shared machine.
func TestPairedRatio(t *testing.T) {
	fs := newFigures()
	for _, v := range [][2]float64{{1000, 1100}, {500, 400}, {800, 900}} {
		fs.add("w.tput", "raftkit", "ops/s", v[0])
		fs.add("w.tput", "bareraft", "ops/s", v[1])
		fs.add("w.p50", "raftkit", "ms", v[0]/100)
		fs.add("w.p50", "bareraft", "ms", v[1]/100)
	}
	p, ok := paired(fs.get("w.tput", "raftkit"), fs.get("w.tput", "bareraft"))
	if !ok || p.n != 3 || p.median != 1000.0/1100 || p.min != 800.0/900 || p.max != 500.0/400 {
		t.Fatalf("rate: %+v, %v; want median 0.909 over [0.889, 1.25], 3 reps", p, ok)
	}
	if m, _ := fs.ratio("w.tput", "raftkit", "bareraft"); m == p.median {
		t.Fatalf("the fixture does not tell pairing from medians (both %v)", m)
	}
	p, ok = paired(fs.get("w.p50", "raftkit"), fs.get("w.p50", "bareraft"))
	if !ok || p.min != 400.0/500 || p.max != 900.0/800 {
		t.Fatalf("time: %+v, %v; want peer/library per repetition", p, ok)
	}
	fs.add("w.tput", "bareraft", "ops/s", 700) // a fourth value on one side only
	if _, ok := paired(fs.get("w.tput", "raftkit"), fs.get("w.tput", "bareraft")); ok {
		t.Fatal("paired figures of different lengths")
	}
	fs.add("z.tput", "raftkit", "ops/s", 0)
	fs.add("z.tput", "bareraft", "ops/s", 3)
	if _, ok := paired(fs.get("z.tput", "raftkit"), fs.get("z.tput", "bareraft")); ok {
		t.Fatal("paired a zero value")
	}
	if _, ok := paired(nil, fs.get("z.tput", "bareraft")); ok {
		t.Fatal("paired a missing figure")
	}
}
