package raftsync_test

import (
	"testing"
	"time"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/mux"
	"github.com/raftkit/raftkit/internal/rpc"
	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/internal/wire"
)

// TestReadRoundRPCsDecodeStrictly covers the read path's RPCs, which the
// node decodes and answers as concrete types rather than through
// wire.Message: a well-formed ReadIndexRequest gets the read index (within
// its Timeout), and a
// body that does not decode gets a bad-request error frame, as every
// other request does.
func TestReadRoundRPCsDecodeStrictly(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	leader := c.Leader()
	written := mustApply(t, leader, testcluster.Set("k", "v"))
	cli := rpc.NewClient(rpc.ClientOptions{Dialer: mux.Dialer{Timeout: 3 * time.Second}})
	defer cli.Close()
	call := func(typ wire.Type, body []byte) wire.Frame {
		t.Helper()
		out, err := cli.Call(ctxTimeout(t, 5*time.Second), leader.Addr, wire.Frame{Type: typ, ID: 1, Body: body})
		if err != nil {
			t.Fatalf("%v: %v", typ, err)
		}
		return out
	}

	req, _ := wire.ReadIndexRequest{Level: uint8(consistency.Strong), Timeout: 2 * time.Second}.MarshalBinary()
	var resp wire.ReadIndexResponse
	if err := wire.Decode(call(wire.TypeReadIndexRequest, req), &resp); err != nil || !resp.OK() {
		t.Fatalf("ReadIndexRequest: %v, status %+v", err, resp.Status)
	}
	if resp.Index < written || resp.Term == 0 {
		t.Fatalf("read index %d in term %d, want at least the written index %d in a real term", resp.Index, resp.Term, written)
	}

	// The request's Timeout bounds it on the leader: one already over by
	// the time the round would start is answered as a timeout.
	expired, _ := wire.ReadIndexRequest{Level: uint8(consistency.Strong), Timeout: time.Nanosecond}.MarshalBinary()
	resp = wire.ReadIndexResponse{}
	if err := wire.Decode(call(wire.TypeReadIndexRequest, expired), &resp); err != nil || resp.Code != wire.CodeTimeout {
		t.Fatalf("ReadIndexRequest with a 1ns timeout: %v, status %+v, want CodeTimeout", err, resp.Status)
	}

	stale, _ := wire.ReadIndexRequest{Level: uint8(consistency.Stale)}.MarshalBinary()
	resp = wire.ReadIndexResponse{}
	if err := wire.Decode(call(wire.TypeReadIndexRequest, stale), &resp); err != nil || resp.Code != wire.CodeBadRequest {
		t.Fatalf("ReadIndexRequest for a Stale read: %v, status %+v, want CodeBadRequest", err, resp.Status)
	}

	for _, typ := range []wire.Type{wire.TypeReadIndexRequest, wire.TypeConfirmRequest} {
		out := call(typ, []byte{0xff, 0xff, 0xff})
		var st wire.Status
		if out.Type != wire.TypeError || st.UnmarshalBinary(out.Body) != nil || st.Code != wire.CodeBadRequest {
			t.Errorf("%v with a malformed body: answer frame %v with status %+v, want an error frame with CodeBadRequest", typ, out.Type, st)
		}
	}
}
