package raftsync

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/testlog"
)

func TestRoutineMessagesAreDemoted(t *testing.T) {
	closed := &net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed}
	tests := []struct {
		level hclog.Level
		msg   string
		args  []any
		want  hclog.Level
	}{
		{hclog.Warn, "heartbeat timeout reached, starting election", []any{"last-leader-id", ""}, hclog.Info},
		{hclog.Warn, "no known peers, aborting election", nil, hclog.Debug},
		{hclog.Warn, "failed to get previous log", []any{"previous-index", 4, "last-index", 0, "error", raft.ErrLogNotFound}, hclog.Debug},
		{hclog.Error, "failed to get log", []any{"index", 212, "error", raft.ErrLogNotFound}, hclog.Debug},
		{hclog.Error, "failed to decode incoming command", []any{"error", closed}, hclog.Debug},
		{hclog.Error, "Error when computing next state", []any{"error", fmt.Errorf("stats: %w", context.Canceled)}, hclog.Debug},
		// Not routine: the same messages with other errors, and anything
		// not in the table, keep their level.
		{hclog.Warn, "failed to get previous log", []any{"error", errors.New("disk on fire")}, hclog.Warn},
		{hclog.Error, "failed to get log", []any{"index", 3, "error", errors.New("bolt: corrupt")}, hclog.Error},
		{hclog.Error, "failed to decode incoming command", []any{"error", errors.New("unknown rpc type 99")}, hclog.Error},
		{hclog.Error, "failed to decode incoming command", nil, hclog.Error},
		{hclog.Warn, "failed to contact quorum of nodes, stepping down", nil, hclog.Warn},
		{hclog.Error, "failed to append to logs", []any{"error", errors.New("disk full")}, hclog.Error},
	}
	q := newQuietState(time.Now)
	for _, tt := range tests {
		got, _ := q.judge(tt.level, tt.msg, tt.args)
		if got != tt.want {
			t.Errorf("%v %q %v: logged at %v, want %v", tt.level, tt.msg, tt.args, got, tt.want)
		}
	}
	for msg, r := range routineMessages {
		if r.to >= hclog.Warn || r.why == "" {
			t.Errorf("routine message %q: level %v, reason %q", msg, r.to, r.why)
		}
	}
}

// fakeNow is a clock tests move by hand.
type fakeNow struct{ t time.Time }

func (c *fakeNow) now() time.Time { return c.t }

// A peer failing every 100ms for 25s and more gets its first WARN once
// PeerWarnGrace has passed, then one per PeerWarnPeriod, each counting
// the messages held back; a peer back within the grace gets none; after a
// quiet gap a new run starts with a new grace.
func TestPeerFailuresAreRateLimited(t *testing.T) {
	clock := &fakeNow{t: time.Unix(1000, 0)}
	q := newQuietState(clock.now)
	peer := raft.Server{ID: "node1", Address: "10.0.0.1:7000"}
	start := clock.t
	var warns []time.Duration
	var lastArgs []any
	fail := func(msg string, args ...any) {
		lvl, out := q.judge(hclog.Error, msg, args)
		switch lvl {
		case hclog.Warn:
			warns = append(warns, clock.t.Sub(start))
			lastArgs = out
		case hclog.Debug:
		default:
			t.Fatalf("%q logged at %v", msg, lvl)
		}
	}
	for clock.t.Sub(start) <= PeerWarnGrace+2*PeerWarnPeriod {
		fail("failed to appendEntries to", "peer", peer, "error", errors.New("connection refused"))
		fail("failed to heartbeat to", "peer", peer.Address, "error", errors.New("connection refused"))
		fail("failed to contact", "server-id", peer.ID, "time", time.Second)
		clock.t = clock.t.Add(100 * time.Millisecond)
	}
	want := []time.Duration{PeerWarnGrace, PeerWarnGrace + PeerWarnPeriod, PeerWarnGrace + 2*PeerWarnPeriod}
	if fmt.Sprint(warns) != fmt.Sprint(want) {
		t.Fatalf("WARN at %v, want at %v", warns, want)
	}
	if argValue(lastArgs, "peer") != "10.0.0.1:7000" || argValue(lastArgs, "peer_id") != raft.ServerID("node1") ||
		argValue(lastArgs, "suppressed") != 3*100-1 || argValue(lastArgs, "failing_for") != want[2] {
		t.Fatalf("WARN arguments %v", lastArgs)
	}

	// Quiet for longer than the period: the next failure starts a new
	// run, which a peer that comes back within the grace never reports.
	clock.t = clock.t.Add(PeerWarnPeriod + time.Second)
	warns = nil
	for range 20 {
		fail("failed to heartbeat to", "peer", peer.Address, "error", errors.New("connection refused"))
		clock.t = clock.t.Add(100 * time.Millisecond)
	}
	if len(warns) != 0 {
		t.Fatalf("a 2s outage after a quiet gap logged WARN at %v", warns)
	}

	// Another peer has its own run.
	other := raft.Server{ID: "node2", Address: "10.0.0.2:7000"}
	start = clock.t
	for range 60 {
		fail("failed to make requestVote RPC", "target", other, "error", errors.New("refused"))
		clock.t = clock.t.Add(100 * time.Millisecond)
	}
	if len(warns) != 1 || warns[0] != PeerWarnGrace {
		t.Fatalf("second peer: WARN at %v, want once at %v", warns, PeerWarnGrace)
	}
}

// Every logger derived from the node's logger demotes, and they share the
// peer state: a sub-logger's failure message counts toward the same run.
func TestQuietLoggerWrapsDerivedLoggers(t *testing.T) {
	rec := testlog.New(t)
	root := newQuietLogger(rec.Logger("n1"))
	raftLog := root.Named("raft").With("k", "v")
	raftLog.Warn("heartbeat timeout reached, starting election")
	raftLog.Error("failed to get log", "index", 7, "error", raft.ErrLogNotFound)
	root.ResetNamed("transport").Error("failed to decode incoming command", "error", net.ErrClosed)
	raftLog.Error("failed to heartbeat to", "peer", raft.ServerAddress("10.0.0.1:7000"), "error", errors.New("refused"))
	root.Warn("something else")
	lines := rec.Lines()
	if testlog.Count(lines, hclog.Error) != 0 || testlog.Count(lines, hclog.Warn) != 1 || testlog.Count(lines, hclog.Info) != 1 {
		t.Fatalf("derived loggers: %s", testlog.Summary(lines))
	}
	if lines[0].Name != "n1.raft" || lines[0].Fields["k"] != "v" {
		t.Fatalf("derived logger lost its name or arguments: %s", lines[0])
	}
}
