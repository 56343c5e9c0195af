package faultsuite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
)

// diskCluster starts an n-member cluster whose raft stores go through the
// returned Disks.
func diskCluster(t *testing.T, n int) (*testcluster.Cluster, []*Disk) {
	t.Helper()
	disks := make([]*Disk, n)
	for i := range disks {
		disks[i] = NewDisk(int64(i))
	}
	logs := newLogRing(500)
	t.Cleanup(func() {
		if t.Failed() {
			for _, l := range logs.tail(200) {
				t.Log(l)
			}
		}
	})
	c := testcluster.New(t, n, testcluster.Options{
		NewFSM: func(int) raft.FSM { return NewFSM() },
		Configure: func(i int, cfg *raftsync.Config) {
			disks[i].Install(cfg)
			cfg.Logger = logs.logger(cfg.ID)
		},
	})
	return c, disks
}

func apply(ctx context.Context, m *testcluster.Member, key, value string) (raftsync.ApplyResult, error) {
	return m.Node.Apply(ctx, WriteCommand(key, value))
}

// TestDiskFullGivesAClearErrorAndRecovers fills every member's disk: a
// write on the leader fails with an error that says so ("no space left on
// device") and is reported as indeterminate, since a failed write may still
// have reached the disk. Once space returns the cluster commits
// again, every write acknowledged before is still there on every member,
// the failed write is applied everywhere or nowhere, and a member restarted
// from its Dir comes back with all of it.
func TestDiskFullGivesAClearErrorAndRecovers(t *testing.T) {
	c, disks := diskCluster(t, 3)
	l := c.Leader()
	ctx := context.Background()
	var acked []raftsync.ApplyResult
	for i := range 5 {
		res, err := apply(ctx, l, "k", fmt.Sprintf("before-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, res)
	}
	for _, d := range disks {
		d.Set(DiskFailWrites, 0)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := apply(wctx, l, "k", "during")
	cancel()
	// raft's log cache flattens the store's error into text (%q), so the
	// cause survives as text only.
	if !errors.Is(err, raftsync.ErrIndeterminate) || !strings.Contains(err.Error(), syscall.ENOSPC.Error()) {
		t.Fatalf("write on a full disk: %v; want ErrIndeterminate saying %q", err, syscall.ENOSPC.Error())
	}
	if disks[l.Index].Stats().Failed == 0 {
		t.Fatal("the leader's disk refused nothing: the fault was not injected")
	}
	for _, d := range disks {
		d.Set(DiskOK, 0)
	}
	var final raftsync.ApplyResult
	waitNoErr(t, 30*time.Second, "a write committing after space returned", func() error {
		var err error
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		final, err = apply(wctx, c.Leader(), "k", "after")
		return err
	})
	for _, m := range c.Members {
		if err := m.Node.WaitIndex(ctxFor(t, 20*time.Second), final.Index); err != nil {
			t.Fatalf("%s: %v", m.ID, err)
		}
	}
	// Restart one member from its Dir: it must hold everything.
	f := c.Followers()[0]
	c.Stop(f)
	c.Start(f)
	c.WaitReady(f)
	if err := f.Node.WaitIndex(ctxFor(t, 20*time.Second), final.Index); err != nil {
		t.Fatal(err)
	}
	var during []bool
	for _, m := range c.Members {
		fsm := m.FSM.(*FSM)
		for _, a := range acked {
			if _, ok := fsm.At(a.Index); !ok {
				t.Errorf("%s lost the write acknowledged at %d", m.ID, a.Index)
			}
		}
		found := false
		for _, e := range fsm.Log() {
			found = found || e.Value == "during"
		}
		during = append(during, found)
	}
	for _, d := range during[1:] {
		if d != during[0] {
			t.Errorf("the write that failed on the full disk is applied on some members only: %v", during)
		}
	}
}

// TestFollowerDiskFaultsDoNotWedgeReplication makes a follower's log
// writes fail again and again while the leader replicates to it. Each
// failure makes the follower answer an AppendEntries with Success=false.
// Once the disk works again the follower must catch up, and every member
// must close within a bound.
//
// With raft's default MaxRPCsInFlight of 2, a Success=false (or a broken
// connection) while the leader replicates in pipeline mode can leave raft's
// replication goroutine blocked for good (the pipeline's decoder has quit,
// and the next send waits on an unbuffered channel nobody reads): the
// follower then gets heartbeats but no more entries, and Shutdown waits
// for that goroutine forever. See docs/ROBUSTNESS.md.
func TestFollowerDiskFaultsDoNotWedgeReplication(t *testing.T) {
	c, disks := diskCluster(t, 3)
	l := c.Leader()
	f := c.Followers()[0]
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				apply(ctx, l, fmt.Sprintf("k%d", w), fmt.Sprint(i))
				cancel()
			}
		}()
	}
	// Each failure while the leader is in pipeline mode is one chance
	// to wedge it; 100 of them catch a wedge most of the time.
	for range 100 {
		disks[f.Index].Set(DiskFailWrites, 0)
		<-time.After(10 * time.Millisecond) // the fault's schedule
		disks[f.Index].Set(DiskOK, 0)
		<-time.After(25 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if disks[f.Index].Stats().Failed == 0 {
		t.Fatal("the follower's disk refused nothing: the fault was not injected")
	}
	var final raftsync.ApplyResult
	waitNoErr(t, 30*time.Second, "a write committing after the faults", func() error {
		var err error
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		final, err = apply(ctx, c.Leader(), "final", "x")
		return err
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.Node.WaitIndex(ctx, final.Index); err != nil {
		t.Errorf("the follower did not catch up after its disk recovered (applied %d of %d): %v; replication to it is wedged:\n%s",
			f.Node.AppliedIndex(), final.Index, err, stuckGoroutines())
	}
	for _, m := range c.Members {
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.Stop(m)
		}()
		select {
		case <-done:
		case <-time.After(closeTimeout):
			t.Fatalf("closing %s did not return within %v:\n%s", m.ID, closeTimeout, stuckGoroutines())
		}
	}
}

// TestStaleReadsWorkWhileTheDiskIsFull: a Stale read needs no raft write,
// so it is served from local state while writes fail.
func TestStaleReadsWorkWhileTheDiskIsFull(t *testing.T) {
	c, disks := diskCluster(t, 3)
	l := c.Leader()
	res, err := apply(context.Background(), l, "k", "v")
	if err != nil {
		t.Fatal(err)
	}
	// Every member holds the write before the disks fill: a follower that
	// had not yet stored it could never apply it with a full disk.
	for _, m := range c.Members {
		if err := m.Node.WaitIndex(ctxFor(t, 10*time.Second), res.Index); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range disks {
		d.Set(DiskFailWrites, 0)
	}
	for _, m := range c.Members {
		if _, err := m.Node.ReadIndex(ctxFor(t, 5*time.Second), consistency.Stale); err != nil {
			t.Errorf("Stale read on %s with a full disk: %v", m.ID, err)
		}
		if v, _ := m.FSM.(*FSM).Read("k"); v != "v" {
			t.Errorf("%s reads %q, want %q", m.ID, v, "v")
		}
	}
	for _, d := range disks {
		d.Set(DiskOK, 0)
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitNoErr retries f until it returns nil or timeout passes.
func waitNoErr(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: last error %v", timeout, what, err)
		}
		<-time.After(20 * time.Millisecond) // retry pacing
	}
}
