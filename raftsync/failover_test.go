package raftsync_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/internal/testutil"
	"github.com/raftkit/raftkit/raftsync"
)

// TestApplyRidesThroughLeaderClose closes the leader while both followers
// keep calling Apply, Read (Strong and Lease) and RemoveServer in loops.
// Every call must succeed within its ctx: a leader that is closing refuses
// before it does anything, and the caller waits for the next leader; the
// closing leader finishes the changes it accepted. No follower may ever
// see ErrClosed (its own node is open) nor ErrNoLeader (a leader takes
// over well within ctx). Only the closed node's own calls report
// ErrClosed. A request written just as the closing leader's RPC
// connection closes is covered by the server's going-away notice (it was
// not read), so it too is retried rather than ErrIndeterminate.
func TestApplyRidesThroughLeaderClose(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	leader := c.Leader()
	leaderNode := leader.Node
	followers := c.Followers()

	type loop struct {
		name string
		call func(ctx context.Context, i int) error
	}
	loops := []loop{
		{"Apply", func(ctx context.Context, i int) error {
			_, err := followers[0].Node.Apply(ctx, testcluster.Set(fmt.Sprintf("k%d", i), "v"))
			return err
		}},
		{"Read(Strong)", func(ctx context.Context, _ int) error {
			return followers[1].Node.Read(ctx, consistency.Strong, func() error { return nil })
		}},
		{"Read(Lease)", func(ctx context.Context, _ int) error {
			return followers[0].Node.Read(ctx, consistency.Lease, func() error { return nil })
		}},
		{"RemoveServer", func(ctx context.Context, _ int) error {
			// Not a member: a configuration change that removes nothing.
			return followers[1].Node.RemoveServer(ctx, "ghost")
		}},
	}

	var (
		stop      = make(chan struct{})
		wg        sync.WaitGroup
		closing   atomic.Bool // set just before the leader's Close
		closed    atomic.Bool // set once it has returned
		mu        sync.Mutex
		failures  []string
		acrossOK  = make([]atomic.Int64, len(loops)) // calls started before Close returned, ended after
		afterOK   = make([]atomic.Int64, len(loops)) // calls started after Close returned
		beforeOK  = make([]atomic.Int64, len(loops))
		callLimit = 20 * time.Second
	)
	for li, l := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				startedOpen := !closed.Load()
				ctx, cancel := context.WithTimeout(context.Background(), callLimit)
				err := l.call(ctx, i)
				cancel()
				if err != nil {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s #%d (closing=%v): %v (ErrClosed=%v, ErrIndeterminate=%v)",
						l.name, i, closing.Load(), err, errors.Is(err, raftsync.ErrClosed), errors.Is(err, raftsync.ErrIndeterminate)))
					mu.Unlock()
					continue
				}
				switch {
				case !startedOpen:
					afterOK[li].Add(1)
				case closed.Load():
					acrossOK[li].Add(1)
				case !closing.Load():
					beforeOK[li].Add(1)
				}
			}
		}()
	}
	testutil.WaitFor(t, 10*time.Second, "every loop succeeding before the close", func() bool {
		for li := range loops {
			if beforeOK[li].Load() < 5 {
				return false
			}
		}
		return true
	})
	closing.Store(true)
	c.Stop(leader)
	closed.Store(true)
	// Every loop goes on succeeding against the next leader.
	testutil.WaitFor(t, 30*time.Second, "every loop succeeding after the close", func() bool {
		for li := range loops {
			if afterOK[li].Load() < 5 {
				return false
			}
		}
		return true
	})
	close(stop)
	wg.Wait()

	for _, f := range failures {
		t.Error(f)
	}
	for li, l := range loops {
		t.Logf("%s: %d before, %d across, %d after the close", l.name, beforeOK[li].Load(), acrossOK[li].Load(), afterOK[li].Load())
	}
	if _, err := leaderNode.Apply(ctxTimeout(t, time.Second), []byte("x")); !errors.Is(err, raftsync.ErrClosed) {
		t.Errorf("the closed node's own Apply = %v, want ErrClosed", err)
	}
}

// TestCallsWithoutALeaderEndWithErrNoLeader: when the leader closes and
// no other can be elected (the other voter is gone too), a survivor's
// calls wait for ctx and then report ErrNoLeader with ctx's error, never
// ErrClosed (the survivor is open) nor ErrIndeterminate (nothing was
// sent to anyone who could apply it).
func TestCallsWithoutALeaderEndWithErrNoLeader(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	leader := c.Leader()
	followers := c.Followers()
	survivor := followers[0]
	c.Stop(followers[1])
	c.Stop(leader)
	calls := map[string]func(ctx context.Context) error{
		"Apply": func(ctx context.Context) error {
			_, err := survivor.Node.Apply(ctx, testcluster.Set("k", "v"))
			return err
		},
		"Read(Strong)": func(ctx context.Context) error {
			return survivor.Node.Read(ctx, consistency.Strong, func() error { return nil })
		},
		"RemoveServer": func(ctx context.Context) error { return survivor.Node.RemoveServer(ctx, "ghost") },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := call(ctxTimeout(t, 1500*time.Millisecond))
			if !errors.Is(err, raftsync.ErrNoLeader) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error %v, want ErrNoLeader and DeadlineExceeded", err)
			}
			if errors.Is(err, raftsync.ErrClosed) || errors.Is(err, raftsync.ErrIndeterminate) {
				t.Fatalf("error %v wraps ErrClosed or ErrIndeterminate", err)
			}
			if waited := time.Since(start); waited < time.Second {
				t.Fatalf("returned after %v: it did not wait for a leader within ctx", waited)
			}
		})
	}
}
