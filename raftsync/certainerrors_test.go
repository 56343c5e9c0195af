package raftsync_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
)

// TestCertainRefusalsAreNotIndeterminate: calls that did nothing say so.
// Each case would have reported ErrIndeterminate (or hidden the OS error)
// before: a call made with a context already ended, on the leader and
// through a follower; Leave and RemoveServer of the only voter.
func TestCertainRefusalsAreNotIndeterminate(t *testing.T) {
	c := testcluster.New(t, 2, testcluster.Options{NonVoters: 1})
	leader, follower := c.Leader(), c.Followers()[0]
	ended, cancel := context.WithCancel(context.Background())
	cancel()

	cases := []struct {
		name string
		call func() error
		want error
	}{
		{"Apply on the leader, ctx ended", func() error {
			_, err := leader.Node.Apply(ended, testcluster.Set("ended-leader", "x"))
			return err
		}, context.Canceled},
		{"Apply through a follower, ctx ended", func() error {
			_, err := follower.Node.Apply(ended, testcluster.Set("ended-follower", "x"))
			return err
		}, context.Canceled},
		{"RemoveServer, ctx ended", func() error { return follower.Node.RemoveServer(ended, "ghost") }, context.Canceled},
		{"Leave on the last voter", func() error { return leader.Node.Leave(ctxTimeout(t, 5*time.Second)) }, raftsync.ErrLastVoter},
		{"RemoveServer of the last voter, on it", func() error {
			return leader.Node.RemoveServer(ctxTimeout(t, 5*time.Second), leader.ID)
		}, raftsync.ErrLastVoter},
		{"RemoveServer of the last voter, through a non-voter", func() error {
			return follower.Node.RemoveServer(ctxTimeout(t, 5*time.Second), leader.ID)
		}, raftsync.ErrLastVoter},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			for _, wrong := range []error{raftsync.ErrIndeterminate, raftsync.ErrClosed, raftsync.ErrNoLeader} {
				if errors.Is(err, wrong) {
					t.Fatalf("error %v also wraps %v", err, wrong)
				}
			}
			if n := strings.Count(err.Error(), "raftsync:"); n != 1 {
				t.Fatalf("error %q: %d package prefixes, want 1", err, n)
			}
		})
	}
	// Nothing was applied or removed: the cluster is whole and serves.
	idx := mustApply(t, follower, testcluster.Set("after", "x"))
	waitConverged(t, c, idx)
	for _, m := range c.Running() {
		for _, k := range []string{"ended-leader", "ended-follower"} {
			if _, ok := m.KV().Get(k); ok {
				t.Errorf("%s holds %q, written with an ended ctx", m.ID, k)
			}
		}
	}
	if present, _, known := c.InConfiguration(leader); !known || !present {
		t.Fatalf("the last voter is no longer in the configuration (known %v)", known)
	}
}

// TestOpenOnAPortInUseUnwrapsTheOSError: a port in use is a *ConfigError
// naming Addr that also unwraps to the system's error.
func TestOpenOnAPortInUseUnwrapsTheOSError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := raftsync.Config{ID: "n1", Dir: filepath.Join(t.TempDir(), "n1"), Addr: ln.Addr().String(), Bootstrap: true}
	n, err := raftsync.Open(ctxTimeout(t, 5*time.Second), cfg, testcluster.NewKV())
	if err == nil {
		n.Close()
		t.Fatal("Open on a port in use succeeded")
	}
	var ce *raftsync.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Addr" || !errors.Is(err, raftsync.ErrInvalidConfig) {
		t.Fatalf("Open = %v, want a *ConfigError for Addr", err)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Open = %v: errors.Is(err, syscall.EADDRINUSE) is false", err)
	}
}
