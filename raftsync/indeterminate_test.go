package raftsync_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
)

// gatedKV blocks Apply of the command "block" until the gate opens, so a
// test can hold a write between commit and response.
type gatedKV struct {
	*testcluster.KV
	gate    chan struct{}
	once    sync.Once
	entered chan struct{}
}

func newGatedKV() *gatedKV {
	return &gatedKV{KV: testcluster.NewKV(), gate: make(chan struct{}), entered: make(chan struct{}, 16)}
}

func (g *gatedKV) Apply(l *raft.Log) interface{} {
	if bytes.Equal(l.Data, []byte("block")) {
		g.entered <- struct{}{}
		<-g.gate
		return nil
	}
	return g.KV.Apply(l)
}

func (g *gatedKV) open() { g.once.Do(func() { close(g.gate) }) }

func TestForwardedWriteWithLostAnswerIsIndeterminate(t *testing.T) {
	fsms := make([]*gatedKV, 3)
	c := testcluster.New(t, 3, testcluster.Options{NewFSM: func(i int) raft.FSM {
		fsms[i] = newGatedKV()
		return fsms[i]
	}})
	t.Cleanup(func() {
		for _, f := range fsms {
			f.open()
		}
	})
	follower := c.Followers()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := follower.Node.Apply(ctx, []byte("block"))
	if !errors.Is(err, raftsync.ErrIndeterminate) {
		t.Fatalf("forwarded write whose answer never came = %v, want ErrIndeterminate", err)
	}
	// The write was not retried: after the gates open it is applied once.
	for _, f := range fsms {
		f.open()
	}
	idx := mustApply(t, follower, testcluster.Set("after", "x"))
	waitConverged(t, c, idx)
	leader := c.Leader()
	for i, f := range fsms {
		if got := len(f.entered); got != 1 {
			t.Fatalf("node%d applied the blocked command %d times, want 1 (leader %s)", i, got, leader.ID)
		}
	}
}
