package raftsync

import (
	"errors"
	"testing"

	"github.com/raftkit/raftkit/internal/wire"
)

// TestForwardedApplyResultClassifiesEveryAnswer pins down which answers to
// a forwarded Apply may say "nothing applied": only refusals that happen
// before the command reaches raft's log. Anything the RPC layer made in
// place of the handler's answer (a TypeError frame with CodeTooLarge or
// CodeInternal) may follow a commit and must be ErrIndeterminate; an
// answer with an Index is a commit whose response was lost.
func TestForwardedApplyResultClassifiesEveryAnswer(t *testing.T) {
	status := func(c wire.Code) wire.Status { return wire.Status{Code: c, Message: "m"} }
	cases := []struct {
		name      string
		frame     wire.Type
		resp      wire.ApplyResponse
		want      error // nil: success
		notWanted []error
		wantIndex uint64
	}{
		{name: "ok", frame: wire.TypeApplyResponse, resp: wire.ApplyResponse{Index: 7}, wantIndex: 7},
		{name: "fsm error", frame: wire.TypeApplyResponse, resp: wire.ApplyResponse{Index: 7, ResultKind: wire.ResultError, Result: []byte("no")}, want: &ApplyError{}, wantIndex: 7},
		{name: "committed, response too large", frame: wire.TypeApplyResponse, resp: wire.ApplyResponse{Index: 9, Status: status(wire.CodeTooLarge)}, want: ErrCommittedNoResponse, notWanted: []error{ErrTooLarge, ErrIndeterminate}, wantIndex: 9},
		{name: "committed, encoding panicked", frame: wire.TypeApplyResponse, resp: wire.ApplyResponse{Index: 9, Status: status(wire.CodeInternal)}, want: ErrCommittedNoResponse, notWanted: []error{ErrIndeterminate}, wantIndex: 9},
		{name: "command too large", frame: wire.TypeApplyResponse, resp: wire.ApplyResponse{Status: status(wire.CodeTooLarge)}, want: ErrTooLarge, notWanted: []error{ErrIndeterminate}},
		{name: "enqueue timeout", frame: wire.TypeApplyResponse, resp: wire.ApplyResponse{Status: status(wire.CodeTimeout)}, want: ErrTimeout, notWanted: []error{ErrIndeterminate}},
		{name: "not leader", frame: wire.TypeApplyResponse, resp: wire.ApplyResponse{Status: status(wire.CodeNotLeader)}, want: errRetryElsewhere},
		{name: "no leader", frame: wire.TypeApplyResponse, resp: wire.ApplyResponse{Status: status(wire.CodeNoLeader)}, want: errRetryElsewhere},
		{name: "remote closed before handling", frame: wire.TypeError, resp: wire.ApplyResponse{Status: status(wire.CodeClosed)}, want: errPeerClosing, notWanted: []error{ErrIndeterminate, ErrClosed}},
		{name: "closing leader refused before raft", frame: wire.TypeApplyResponse, resp: wire.ApplyResponse{Status: status(wire.CodeClosed)}, want: errRetryElsewhere, notWanted: []error{ErrIndeterminate, ErrClosed}},
		{name: "leader lost after append", frame: wire.TypeApplyResponse, resp: wire.ApplyResponse{Status: status(wire.CodeIndeterminate)}, want: ErrIndeterminate},
		{name: "rpc layer: response too large", frame: wire.TypeError, resp: wire.ApplyResponse{Status: status(wire.CodeTooLarge)}, want: ErrIndeterminate, notWanted: []error{ErrTooLarge}},
		{name: "rpc layer: handler panicked", frame: wire.TypeError, resp: wire.ApplyResponse{Status: status(wire.CodeInternal)}, want: ErrIndeterminate},
		{name: "rpc layer: timeout", frame: wire.TypeError, resp: wire.ApplyResponse{Status: status(wire.CodeTimeout)}, want: ErrIndeterminate, notWanted: []error{ErrTimeout}},
		{name: "unexpected code", frame: wire.TypeApplyResponse, resp: wire.ApplyResponse{Status: status(wire.CodeMismatch)}, want: ErrIndeterminate},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := (&Node{}).forwardedApplyResult(tc.frame, &tc.resp)
			var ae *ApplyError
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("error %v, want success", err)
			case tc.want != nil && errors.As(tc.want, &ae):
				if !errors.As(err, &ae) {
					t.Fatalf("error %v, want an *ApplyError", err)
				}
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			for _, nw := range tc.notWanted {
				if errors.Is(err, nw) {
					t.Fatalf("error %v wraps %v", err, nw)
				}
			}
			if res.Index != tc.wantIndex {
				t.Fatalf("Index %d, want %d", res.Index, tc.wantIndex)
			}
		})
	}
}
