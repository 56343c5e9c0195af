package crashsim_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/raftkit/raftkit/internal/crashsim"
	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestCrashSkipsTheFinalRecord: with persistence throttled to once an
// hour, a clean Close records the applied index and a crash does not, so
// the Dir re-opens at the index persisted before (here none); a Dir
// re-opened after a crash records again.
func TestCrashSkipsTheFinalRecord(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := raftsync.Config{
		ID: "n1", Dir: t.TempDir(), Addr: "127.0.0.1:0", Bootstrap: true,
		Logger:     testcluster.Logger(t, "n1"),
		RaftConfig: testcluster.FastRaft,
		Persist:    readiness.PersistPolicy{EveryEntries: 1 << 40, Interval: time.Hour},
	}
	var sw crashsim.Switch
	sw.Install(&cfg)
	open := func() *raftsync.Node {
		t.Helper()
		n, err := raftsync.Open(ctx, cfg, testcluster.NewKV())
		if err != nil {
			t.Fatal(err)
		}
		if err := n.WaitReady(ctx); err != nil {
			n.Close()
			t.Fatal(err)
		}
		return n
	}
	apply := func(n *raftsync.Node) uint64 {
		t.Helper()
		res, err := n.Apply(ctx, testcluster.Set("k", "v"))
		if err != nil {
			n.Close()
			t.Fatal(err)
		}
		if err := n.WaitIndex(ctx, res.Index); err != nil {
			n.Close()
			t.Fatal(err)
		}
		return res.Index
	}

	n := open()
	before := n.Status().PersistedIndex
	last := apply(n)
	if err := sw.Crash(n); err != nil {
		t.Fatal(err)
	}
	n = open()
	if got := n.Status().PersistedIndex; got != before || got >= last {
		n.Close()
		t.Fatalf("after a crash the Dir holds the record of index %d, want the one from before the crash (%d), below %d", got, before, last)
	}
	last = apply(n)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n = open()
	defer n.Close()
	if got := n.Status().PersistedIndex; got < last {
		t.Fatalf("after a clean Close of the re-opened Dir the record holds index %d, want %d", got, last)
	}
}
