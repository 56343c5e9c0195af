package raftsync_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/internal/testlog"
	"github.com/raftkit/raftkit/internal/testutil"
	"github.com/raftkit/raftkit/raftsync"
)

// These tests count what a cluster logs at the default level (Info) over
// routine operations. An alert on ERROR must not fire for any of them, and
// WARN is kept for what an operator may have to act on (issue 14).

// loggedCluster starts an n-member cluster whose members log into rec at
// Info, the default Config.Logger's level.
func loggedCluster(t *testing.T, rec *testlog.Recorder, n int, opts testcluster.Options) *testcluster.Cluster {
	t.Helper()
	configure := opts.Configure
	opts.Configure = func(i int, cfg *raftsync.Config) {
		cfg.Logger = rec.Logger(cfg.ID)
		if configure != nil {
			configure(i, cfg)
		}
	}
	return testcluster.New(t, n, opts)
}

// wantLogs fails t when lines hold more than maxErrors ERROR or maxWarns
// WARN lines.
func wantLogs(t *testing.T, what string, lines []testlog.Line, maxErrors, maxWarns int) {
	t.Helper()
	e, w := testlog.Count(lines, hclog.Error), testlog.Count(lines, hclog.Warn)
	t.Logf("%s: %d ERROR, %d WARN, %d INFO", what, e, w, testlog.Count(lines, hclog.Info))
	if e > maxErrors || w > maxWarns {
		t.Fatalf("%s logged more than %d ERROR and %d WARN: %s", what, maxErrors, maxWarns, testlog.Summary(lines))
	}
}

func writeSome(t *testing.T, c *testcluster.Cluster, n int) uint64 {
	t.Helper()
	var last uint64
	for i := range n {
		m := c.Running()[i%len(c.Running())] // through followers too
		last = mustApply(t, m, testcluster.Set(fmt.Sprintf("k%d", i), "v"))
	}
	waitConverged(t, c, last)
	return last
}

// A healthy three-node start and its first writes log no ERROR and at
// most two WARN; a clean shutdown of the whole cluster, in any order,
// logs no ERROR (closing followers first, or all at once, used to log
// raft's "failed to decode incoming command ... use of closed network
// connection" and failed appends at ERROR).
func TestQuietLogsStartWritesAndShutdown(t *testing.T) {
	for _, order := range []string{"followers first", "all at once", "leader first"} {
		t.Run(order, func(t *testing.T) {
			rec := testlog.New(t)
			c := loggedCluster(t, rec, 3, testcluster.Options{})
			writeSome(t, c, 20)
			wantLogs(t, "start and first writes", rec.Lines(), 0, 2)

			mark := rec.Mark()
			leader := c.Leader()
			switch order {
			case "followers first":
				for _, m := range c.Followers() {
					c.Stop(m)
				}
				c.Stop(leader)
			case "all at once":
				var wg sync.WaitGroup
				for _, m := range c.Members {
					wg.Add(1)
					go func() { defer wg.Done(); c.Stop(m) }()
				}
				wg.Wait()
			case "leader first":
				c.Stop(leader)
				for _, m := range c.Members {
					c.Stop(m)
				}
			}
			wantLogs(t, "shutdown of the whole cluster, "+order, rec.Since(mark), 0, 0)
		})
	}
}

// A non-voter's planned Leave logs no ERROR on any node.
func TestQuietLogsNonVoterLeave(t *testing.T) {
	rec := testlog.New(t)
	c := loggedCluster(t, rec, 3, testcluster.Options{NonVoters: 1})
	writeSome(t, c, 5)
	nv := c.Members[2]
	mark := rec.Mark()
	if err := nv.Node.Leave(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	c.Detach(nv)
	writeSome(t, c, 5)
	wantLogs(t, "non-voter leave", rec.Since(mark), 0, 2)
}

// Restarting each member in turn, waiting for it to catch up before the
// next, logs no ERROR.
func TestQuietLogsRollingRestart(t *testing.T) {
	rec := testlog.New(t)
	c := loggedCluster(t, rec, 3, testcluster.Options{})
	writeSome(t, c, 10)
	mark := rec.Mark()
	for _, m := range c.Members {
		c.Restart(m)
		c.WaitReady(m)
		writeSome(t, c, 10)
	}
	lines := rec.Since(mark)
	wantLogs(t, "rolling restart", lines, 0, len(lines))
}

// A follower down for 10 s while writes go on logs no ERROR, and at most
// one WARN per unreachable peer per back-off period.
func TestQuietLogsFollowerDown(t *testing.T) {
	rec := testlog.New(t)
	c := loggedCluster(t, rec, 3, testcluster.Options{})
	writeSome(t, c, 5)
	down := c.Followers()[0]
	mark := rec.Mark()
	c.Stop(down)
	until := time.Now().Add(10 * time.Second)
	writes := 0
	for time.Now().Before(until) {
		mustApply(t, c.Leader(), testcluster.Set(fmt.Sprintf("w%d", writes), "v"))
		writes++
	}
	c.Start(down)
	c.WaitReady(down)
	last := writeSome(t, c, 5)
	testutil.WaitFor(t, 10*time.Second, down.ID+" caught up", func() bool { return down.Node.AppliedIndex() >= last })
	lines := rec.Since(mark)
	t.Logf("%d writes while %s was down", writes, down.ID)
	wantLogs(t, "follower down 10s", lines, 0, len(lines))
	perPeerWarnings(t, lines)
	// The operator still hears of it: the peer was down for longer than
	// the grace.
	warned := false
	for _, l := range testlog.AtLeast(lines, hclog.Warn) {
		warned = warned || l.Fields["peer"] == down.Addr
	}
	if !warned {
		t.Fatalf("no WARN names %s, down for 10s: %s", down.Addr, testlog.Summary(lines))
	}
}

// perPeerWarnings fails t when two WARN lines about the same peer are
// closer than the back-off period, or when a WARN names no peer.
func perPeerWarnings(t *testing.T, lines []testlog.Line) {
	t.Helper()
	last := map[string]time.Time{}
	for _, l := range testlog.AtLeast(lines, hclog.Warn) {
		peer, ok := l.Fields["peer"].(string)
		if !ok && strings.Contains(l.Message, "failed to contact quorum of nodes") {
			// A leader that lost its quorum is news about the cluster, not
			// a retry about one peer; it happens here only when the
			// machine starves the remaining follower's heartbeats.
			t.Logf("leadership lost while the follower was down: %s", l)
			continue
		}
		if !ok {
			t.Errorf("WARN without a peer: %s", l)
			continue
		}
		key := strings.SplitN(l.Name, ".", 2)[0] + "|" + peer // per node and peer
		if prev, seen := last[key]; seen && l.Time.Sub(prev) < raftsync.PeerWarnPeriod-time.Second {
			t.Errorf("two WARN about %s within %v: %s", peer, l.Time.Sub(prev), l)
		}
		last[key] = l.Time
	}
}
