package raftsync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/wire"
)

// TestRemoteErrorsKeepTheirSentinelAndOnePrefix sends each error a
// handler can answer with across errorStatus and statusError, as a
// forwarded call does: the caller's error must wrap the same sentinel
// and name the package once ("raftsync: outcome of write unknown:
// raftsync: outcome of write unknown: ..." was the text before).
func TestRemoteErrorsKeepTheirSentinelAndOnePrefix(t *testing.T) {
	n := &Node{}
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"leadership lost", applyError(raft.ErrLeadershipLost), ErrIndeterminate},
		{"raft shut down", applyError(raft.ErrRaftShutdown), ErrIndeterminate},
		{"too large", fmt.Errorf("%w: 9 bytes, limit 8", ErrTooLarge), ErrTooLarge},
		{"enqueue timeout", applyError(raft.ErrEnqueueTimeout), ErrTimeout},
		{"not ready", fmt.Errorf("%w: recovering", ErrNotReady), ErrNotReady},
		{"mismatch", fmt.Errorf("%w: cluster a, this is b", ErrClusterMismatch), ErrClusterMismatch},
		{"last voter", wrapf([]error{ErrLastVoter}, "cannot remove the last voter: n1 is the cluster's only voter"), ErrLastVoter},
		{"no leader", fmt.Errorf("%w: electing", ErrNoLeader), ErrNoLeader},
		{"not leader", &NotLeaderError{LeaderID: "n2", LeaderAddr: "127.0.0.1:1"}, ErrNotLeader},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := statusError(n.errorStatus(tc.err))
			if !errors.Is(got, tc.want) {
				t.Fatalf("remote %q arrived as %q, which does not wrap %v", tc.err, got, tc.want)
			}
			if c := strings.Count(got.Error(), "raftsync:"); c != 1 {
				t.Fatalf("remote %q arrived as %q: %d package prefixes, want 1", tc.err, got, c)
			}
			if c := strings.Count(tc.err.Error(), "raftsync:"); c != 1 {
				t.Fatalf("local error %q: %d package prefixes, want 1", tc.err, c)
			}
		})
	}
}

// TestRemoteClosedIsNotOurClosed: a node that answers "closed or still
// starting" refused before doing anything; for the caller that is a reason
// to wait for the next leader, never its own ErrClosed.
func TestRemoteClosedIsNotOurClosed(t *testing.T) {
	err := statusError(wire.Status{Code: wire.CodeClosed, Message: "node closed or still starting"})
	if errors.Is(err, ErrClosed) || errors.Is(err, ErrIndeterminate) {
		t.Fatalf("remote closed = %v: wraps ErrClosed or ErrIndeterminate", err)
	}
	if !errors.Is(err, errRetryElsewhere) {
		t.Fatalf("remote closed = %v: not retried at the next leader", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	final := noLeaderError(ctx, err)
	if !errors.Is(final, ErrNoLeader) || !errors.Is(final, context.Canceled) || errors.Is(final, ErrClosed) {
		t.Fatalf("ctx ending after remote closed = %v: want ErrNoLeader and ctx's error, not ErrClosed", final)
	}
	if c := strings.Count(final.Error(), "raftsync:"); c != 1 {
		t.Fatalf("%q: %d package prefixes, want 1", final, c)
	}
}

// TestApplyErrorClassifiesRaftErrors pins what each of raft's Apply
// errors tells the caller.
func TestApplyErrorClassifiesRaftErrors(t *testing.T) {
	cases := []struct {
		err       error
		want      []error
		notWanted []error
	}{
		{raft.ErrNotLeader, []error{errRetryElsewhere}, []error{ErrIndeterminate}},
		{raft.ErrLeadershipTransferInProgress, []error{errRetryElsewhere}, []error{ErrIndeterminate}},
		{raft.ErrEnqueueTimeout, []error{ErrTimeout}, []error{ErrIndeterminate}},
		{raft.ErrLeadershipLost, []error{ErrIndeterminate}, []error{ErrClosed}},
		{raft.ErrRaftShutdown, []error{ErrIndeterminate, ErrClosed}, nil},
		{context.DeadlineExceeded, []error{ErrIndeterminate, context.DeadlineExceeded}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.err.Error(), func(t *testing.T) {
			got := applyError(tc.err)
			for _, w := range tc.want {
				if !errors.Is(got, w) {
					t.Errorf("%q does not wrap %v", got, w)
				}
			}
			for _, nw := range tc.notWanted {
				if errors.Is(got, nw) {
					t.Errorf("%q wraps %v", got, nw)
				}
			}
			// A refusal to retry elsewhere keeps raft's text; it reaches
			// no caller (the call is retried) but may be logged.
			if c := strings.Count(got.Error(), "raftsync:"); c > 1 || (c == 0 && !errors.Is(got, errRetryElsewhere)) {
				t.Errorf("%q: %d package prefixes, want 1", got, c)
			}
		})
	}
}
