package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func testRunner(t *testing.T, o options) *runner {
	t.Helper()
	if o.reps == 0 {
		o.reps = 1
	}
	if o.systems == nil {
		o.systems = []string{"raftkit", "bareraft"}
	}
	return &runner{o: o, base: t.TempDir(), figs: newFigures(), progress: io.Discard, logger: discardLogger(), start: time.Now()}
}

// TestRunWritesAndReads runs the write and read cells end to end on both
// in-process systems and checks the report: which cells each system has,
// and that the machine-readable lines are well formed.
func TestRunWritesAndReads(t *testing.T) {
	o := options{
		reps: 1, duration: 150 * time.Millisecond, warmup: 20 * time.Millisecond,
		scenarios: []string{"writes", "reads"}, systems: []string{"raftkit", "bareraft"},
		writers: []int{1, 4}, readers: []int{2}, dir: t.TempDir(),
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, o, &out, io.Discard); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	report := out.String()
	has := func(line string) bool {
		return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(line) + ` [0-9.]+ \S+$`).MatchString(report)
	}
	for _, want := range []string{
		"BENCH writes.leader.w1.tput raftkit", "BENCH writes.leader.w4.tput bareraft",
		"BENCH writes.follower.w4.p50 raftkit",
		"BENCH reads.strong.leader.r2.tput raftkit", "BENCH reads.strong.leader.r2.tput bareraft",
		"BENCH reads.strong.follower.r2.tput raftkit", "BENCH reads.lease.leader.r2.tput raftkit",
		"BENCH reads.stale.follower.r2.tput bareraft",
	} {
		if !has(want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Cells bare raft does not offer are absent, not zero.
	for _, absent := range []string{"BENCH writes.follower.w1.tput bareraft", "BENCH reads.lease.leader.r2.tput bareraft", "BENCH reads.strong.follower.r2.tput bareraft"} {
		if strings.Contains(report, absent) {
			t.Errorf("report has %q, which bare raft does not offer", absent)
		}
	}
	if !regexp.MustCompile(`(?m)^RATIO writes\.leader\.w1\.tput:raftkit/bareraft [0-9]+\.[0-9]{3}$`).MatchString(report) {
		t.Errorf("no RATIO line for leader writes:\n%s", report)
	}
	if !strings.Contains(report, "## targets") {
		t.Error("no targets table")
	}
}

// TestRestartLoneNode checks the restart scenario's mechanics on a short
// log: both systems restart and catch up, and a lone raftkit node recovers
// its whole state with its peers down while a lone bare raft node, which
// has no snapshot yet, applies nothing.
func TestRestartLoneNode(t *testing.T) {
	r := testRunner(t, options{sizes: []int{300}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, sys := range []string{"raftkit", "bareraft"} {
		if err := r.restartOne(ctx, sys, false, 300); err != nil {
			t.Fatalf("%s: %v", sys, err)
		}
	}
	if len(r.failures) > 0 {
		t.Fatalf("failures: %v", r.failures)
	}
	for _, sys := range []string{"raftkit", "bareraft"} {
		for _, sc := range []string{"restart.cluster.mem.300", "restart.follower.mem.300"} {
			if f := r.figs.get(sc, sys); f == nil || f.median() <= 0 {
				t.Errorf("%s %s: no time", sc, sys)
			}
		}
		if f := r.figs.get("restart.log-entries.mem.300", sys); f == nil || f.median() < 300 {
			t.Errorf("%s: log holds %v entries, want at least the 300 appended", sys, f)
		}
	}
	if f := r.figs.get("restart.lone-applied.mem.300", "raftkit"); f == nil || f.median() != 1 {
		t.Errorf("lone raftkit node applied fraction %v, want 1 (Recovered)", f)
	}
	if f := r.figs.get("restart.lone-applied.mem.300", "bareraft"); f == nil || f.median() >= 1 {
		t.Errorf("lone bare raft node applied fraction %v, want below 1", f)
	}
}

// TestJoinInproc runs the join scenario on a small state for both
// in-process systems.
func TestJoinInproc(t *testing.T) {
	r := testRunner(t, options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for name, join := range map[string]func(context.Context, int64) (time.Duration, error){"raftkit": r.joinRaftkit, "bareraft": r.joinBare} {
		took, err := join(ctx, 20*joinValueSize)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if took <= 0 {
			t.Fatalf("%s: took %v", name, took)
		}
	}
}

func TestSizeNames(t *testing.T) {
	for n, want := range map[int]string{10000: "10k", 1000000: "1M", 300: "300", 1500: "1500"} {
		if got := sizeName(n); got != want {
			t.Errorf("sizeName(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestSweepWALVariant runs the wal sweep variant on both in-process
// systems: each writes with its log in raft-wal (Dir/wal), bolt kept as
// the stable store.
func TestSweepWALVariant(t *testing.T) {
	o := options{
		reps: 1, duration: 150 * time.Millisecond, warmup: 20 * time.Millisecond,
		scenarios: []string{"sweep"}, systems: []string{"raftkit", "bareraft"},
		writers: []int{2}, sweep: []string{"wal"}, dir: t.TempDir(), keep: true,
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, o, &out, io.Discard); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"BENCH sweep.wal.w2.tput raftkit", "BENCH sweep.wal.w2.tput bareraft"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + ` [0-9.]+ \S+$`).MatchString(out.String()) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	// Every member of both clusters kept its log in a WAL.
	metas, err := filepath.Glob(filepath.Join(o.dir, "*", "*-sweep-*-wal", "node*", "wal", "wal-meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	if len(metas) != 6 {
		t.Errorf("found %d WALs, want one per member of the two clusters: %v", len(metas), metas)
	}
}
