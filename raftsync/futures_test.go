package raftsync

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/testutil"
)

// gatedFSM blocks every Apply until the gate opens.
type gatedFSM struct {
	gate    chan struct{}
	entered chan struct{} // receives once per Apply, without blocking
}

func (g *gatedFSM) Apply(*raft.Log) any {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.gate
	return nil
}
func (g *gatedFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, errors.New("no snapshots") }
func (g *gatedFSM) Restore(io.ReadCloser) error         { return errors.New("no snapshots") }

// newLoneRaft starts a single-voter in-memory raft and waits until it leads.
func newLoneRaft(t *testing.T, fsm raft.FSM) *raft.Raft {
	t.Helper()
	conf := raft.DefaultConfig()
	conf.LocalID = "a"
	conf.HeartbeatTimeout = 50 * time.Millisecond
	conf.ElectionTimeout = 50 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	conf.Logger = hclog.NewNullLogger()
	addr, trans := raft.NewInmemTransport("a")
	logs := raft.NewInmemStore()
	snaps := raft.NewInmemSnapshotStore()
	r, err := raft.NewRaft(conf, fsm, logs, logs, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	boot := raft.Configuration{Servers: []raft.Server{{ID: "a", Address: addr}}}
	if err := r.BootstrapCluster(boot).Error(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.State() != raft.Leader {
		if time.Now().After(deadline) {
			t.Fatal("no leader within 10s")
		}
		select {
		case <-r.LeaderCh():
		case <-time.After(10 * time.Millisecond):
		}
	}
	return r
}

// Every kind of future the node waits on must accept the binding; a raft
// upgrade that renames ShutdownCh would otherwise bring back waiters that
// outlive the node.
func TestBindShutdownAcceptsEveryFutureTheNodeWaitsOn(t *testing.T) {
	gate := make(chan struct{})
	close(gate)
	r := newLoneRaft(t, &gatedFSM{gate: gate, entered: make(chan struct{}, 1)})
	stop := make(chan struct{})
	futures := map[string]raft.Future{
		"Apply":              r.Apply([]byte("x"), time.Second),
		"ApplyLog":           r.ApplyLog(raft.Log{Type: raft.LogCommand, Extensions: markerExtension}, time.Second),
		"Barrier":            r.Barrier(time.Second),
		"Snapshot":           r.Snapshot(),
		"AddNonvoter":        r.AddNonvoter("b", "b", 0, time.Second),
		"RemoveServer":       r.RemoveServer("b", 0, time.Second),
		"LeadershipTransfer": r.LeadershipTransfer(),
	}
	for name, f := range futures {
		if !bindShutdown(f, stop) {
			t.Errorf("%s: %T does not take a ShutdownCh", name, f)
		}
	}
	if err := r.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	for _, f := range futures {
		_ = f.Error() // returns: raft answered, or the bound channel closed
	}
}

// Futures raft has committed and queued for the FSM when it shuts down are
// never answered by raft v1.7.3. The node's waiters must all return once
// stop runs after raft.Shutdown.
func TestFutureWaitsReleaseFuturesRaftDropsAtShutdown(t *testing.T) {
	const writes = 300
	fsm := &gatedFSM{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	r := newLoneRaft(t, fsm)
	w := newFutureWaits()

	var waiters sync.WaitGroup
	results := make(chan error, writes)
	// Half the callers can cancel (their own channel is bound and closed
	// by stop), half cannot (the node's channel is bound).
	cancellable, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range writes {
		ctx := context.Background()
		if i%2 == 1 {
			ctx = cancellable
		}
		waiters.Add(1)
		go func() {
			defer waiters.Done()
			results <- w.wait(ctx, r.Apply([]byte("x"), 0))
		}()
	}
	// The FSM holds the first batch; wait until many more are committed and
	// queued behind it.
	select {
	case <-fsm.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the FSM saw no entry within 10s")
	}
	testutil.WaitFor(t, 10*time.Second, "64 entries committed behind the held one", func() bool {
		return r.CommitIndex() >= 64
	})
	shut := r.Shutdown()
	close(fsm.gate)
	if err := shut.Error(); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() {
		w.stop()
		waiters.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("waiters still blocked 10s after stop: a dropped future was not released")
	}
	close(results)
	var applied, shutdown int
	kinds := map[string]int{}
	for err := range results {
		if err != nil {
			kinds[err.Error()]++
		}
		switch {
		case err == nil:
			applied++
		case errors.Is(err, raft.ErrRaftShutdown), errors.Is(err, raft.ErrLeadershipLost):
			shutdown++
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	t.Logf("applied %d, reported shut down %d (%v)", applied, shutdown, kinds)
	if applied+shutdown != writes {
		t.Fatalf("%d answers for %d writes", applied+shutdown, writes)
	}
}

// A caller whose ctx ends gets ctx's error at once; the goroutine that
// still waits on the future ends at stop, not later.
func TestFutureWaitsCallerLeavesOnContext(t *testing.T) {
	w := newFutureWaits()
	f := &neverAnswered{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.wait(ctx, f); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait with a cancelled ctx: %v, want context.Canceled", err)
	}
	w.stop() // goleak in TestMain fails if the waiter goroutine is left
	if err := w.wait(context.Background(), &neverAnswered{}); !errors.Is(err, raft.ErrRaftShutdown) {
		t.Fatalf("wait after stop: %v, want ErrRaftShutdown", err)
	}
}

// neverAnswered has the shape of raft's deferError-based futures and is
// never answered, like the futures raft drops.
type neverAnswered struct{ deferShape }

type deferShape struct{ ShutdownCh chan struct{} }

func (f *neverAnswered) Error() error {
	<-f.ShutdownCh
	return raft.ErrRaftShutdown
}
