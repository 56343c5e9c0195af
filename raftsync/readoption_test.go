package raftsync_test

import (
	"errors"
	"testing"
	"time"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/faultnet"
	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/internal/testutil"
	"github.com/raftkit/raftkit/raftsync"
)

// TestReadPerCallStaleBounds: a read's own bound replaces Config's for that
// read only, in both directions. A bound tighter than Config's refuses a
// read that Config's would serve, with a *TooStaleError carrying the
// per-read bound; WithMaxStaleness(0) serves a read that Config's bound
// refuses; the next read without options is judged by Config's again.
func TestReadPerCallStaleBounds(t *testing.T) {
	const configured = 300 * time.Millisecond
	net := faultnet.New()
	c := testcluster.New(t, 3, testcluster.Options{Network: net, Configure: func(_ int, cfg *raftsync.Config) {
		cfg.Consistency.Stale.MaxStaleness = configured
	}})
	f := c.Followers()[0]
	noop := func() error { return nil }

	// A fresh follower: Config's bound serves, a 1ns bound cannot.
	testutil.WaitFor(t, 10*time.Second, "fresh follower serving a bounded Stale read", func() bool {
		return f.Node.Read(ctxTimeout(t, time.Second), consistency.Stale, noop) == nil
	})
	_, err := f.Node.ReadIndex(ctxTimeout(t, time.Second), consistency.Stale, consistency.WithMaxStaleness(time.Nanosecond))
	var tse *consistency.TooStaleError
	if !errors.Is(err, consistency.ErrTooStale) || !errors.As(err, &tse) || tse.MaxStaleness != time.Nanosecond {
		t.Fatalf("Stale read with a 1ns bound: err = %v, want a *TooStaleError with MaxStaleness 1ns", err)
	}
	_, err = f.Node.ReadIndex(ctxTimeout(t, time.Second), consistency.Stale, consistency.WithMaxStaleness(-time.Second))
	if !errors.Is(err, consistency.ErrInvalidOptions) {
		t.Fatalf("Stale read with a negative bound: err = %v, want ErrInvalidOptions", err)
	}

	// Cut off: Config's bound refuses, a lifted one serves.
	var others []string
	for _, m := range c.Members {
		others = append(others, m.ID)
	}
	net.Isolate(f.ID, others...)
	testutil.WaitFor(t, 10*time.Second, "Config's bound refusing the cut-off follower", func() bool {
		err := f.Node.Read(ctxTimeout(t, time.Second), consistency.Stale, noop)
		return errors.As(err, &tse) && tse.MaxStaleness == configured
	})
	if err := f.Node.Read(ctxTimeout(t, time.Second), consistency.Stale, noop, consistency.WithMaxStaleness(0)); err != nil {
		t.Fatalf("Stale read with the bound lifted for it: %v", err)
	}
	if err := f.Node.Read(ctxTimeout(t, time.Second), consistency.Stale, noop); !errors.Is(err, consistency.ErrTooStale) {
		t.Fatalf("Stale read without options after a lifted one: err = %v, want ErrTooStale (Config's bound)", err)
	}
	net.Heal()
	c.WaitReady(f)
}
