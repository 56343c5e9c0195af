package store_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/examples/gateway/route"
	"github.com/raftkit/raftkit/examples/gateway/store"
)

// applier feeds commands to a store at increasing indexes, as raft would.
type applier struct {
	t     *testing.T
	s     *store.Mem
	index uint64
}

func newApplier(t *testing.T, o store.Options) *applier {
	return &applier{t: t, s: store.NewMem(o)}
}

// do applies c and returns the rejection, or nil when it was applied.
func (a *applier) do(c route.Command) *route.Rejection {
	a.t.Helper()
	a.index++
	resp := a.s.Apply(&raft.Log{Index: a.index, Term: 1, Type: raft.LogCommand, Data: c.Encode()})
	if resp == nil {
		return nil
	}
	b, ok := resp.([]byte)
	if !ok {
		a.t.Fatalf("Apply answered %T %v, want nil or []byte", resp, resp)
	}
	rej, err := route.DecodeRejection(b)
	if err != nil {
		a.t.Fatal(err)
	}
	return rej
}

func (a *applier) mustDo(c route.Command) uint64 {
	a.t.Helper()
	if rej := a.do(c); rej != nil {
		a.t.Fatalf("%s %s rejected: %v", c.Op, c.ID, rej)
	}
	return a.index
}

func rt(prefix string, urls ...string) *route.Route {
	r := &route.Route{PathPrefix: prefix}
	for _, u := range urls {
		r.Upstreams = append(r.Upstreams, route.Upstream{URL: u, Weight: 1})
	}
	return r
}

func put(id string, r *route.Route) route.Command {
	return route.Command{Op: route.OpPutRoute, ID: id, Route: r}
}

func del(id string) route.Command { return route.Command{Op: route.OpDeleteRoute, ID: id} }

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	cancelled, closed bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { s.closed = true; return nil }

func snapshotBytes(t *testing.T, s *store.Mem) []byte {
	t.Helper()
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var sink memSink
	if err := snap.Persist(&sink); err != nil || !sink.closed {
		t.Fatalf("Persist: %v (closed %v)", err, sink.closed)
	}
	return sink.Bytes()
}

func restore(s *store.Mem, b []byte) error {
	return s.Restore(io.NopCloser(bytes.NewReader(b)))
}

var _ raft.SnapshotSink = (*memSink)(nil)
