package faultsuite

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/mux"
	"github.com/raftkit/raftkit/internal/testcluster"
)

// floodConns is how many idle connections each flood opens: more than
// any bound the node documents (mux.DefaultMaxPending connections in their
// handshake, mux.DefaultMaxConnsPerKind accepted ones of each kind).
const floodConns = 1500

// floodBound is the most goroutines a flood of idle connections of one kind
// may add to the process: the mux's pending bound plus its bound on the
// accepted connections of a kind, each with a goroutine, and some slack. A
// flood that grows the process beyond it grows it without bound.
const floodBound = mux.DefaultMaxPending + mux.DefaultMaxConnsPerKind + 200

// TestConnectionFloodsLeaveTheClusterServing opens floodConns idle
// connections to the leader's port, of each kind an attacker can open
// without credentials: silent ones (no kind byte), raft-transport ones and
// node-RPC ones. During each flood the cluster must keep serving: a write
// forwarded through a follower, a Strong read there, and a follower
// restarted from its Dir becoming Ready (which needs new connections to
// the leader). The goroutines the flood adds must stay bounded.
func TestConnectionFloodsLeaveTheClusterServing(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{NewFSM: func(int) raft.FSM { return NewFSM() }})
	for _, kind := range []struct {
		name  string
		first []byte
	}{
		{"silent", nil},
		{"raft kind", []byte{'R'}},
		{"rpc kind", []byte{'K'}},
	} {
		t.Run(kind.name, func(t *testing.T) {
			l := c.Leader()
			before := runtime.NumGoroutine()
			conns := flood(t, l.Addr, kind.first)
			grown := waitGrowth(before)
			t.Logf("%d idle %s connections to the leader added %d goroutines (bound %d)", len(conns), kind.name, grown, floodBound)

			f := c.Followers()[0]
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if _, err := f.Node.Apply(ctx, WriteCommand("k", kind.name)); err != nil {
				t.Errorf("forwarded write during the flood: %v", err)
			}
			if _, err := f.Node.ReadIndex(ctx, consistency.Strong); err != nil {
				t.Errorf("Strong read on a follower during the flood: %v", err)
			}
			c.Stop(f)
			if err := c.TryStart(f); err != nil {
				t.Fatalf("restarting %s during the flood: %v", f.ID, err)
			}
			rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer rcancel()
			if err := f.Node.WaitReady(rctx); err != nil {
				t.Errorf("a follower restarted during the flood did not become Ready (it needs new connections to the leader): %v", err)
			}
			if grown > floodBound {
				t.Errorf("%d idle %s connections added %d goroutines, beyond the %d that the node's documented bounds allow: the flood grows the process without bound",
					len(conns), kind.name, grown, floodBound)
			}
			for _, cn := range conns {
				cn.Close()
			}
			// Every member is Ready again before the next flood.
			for _, m := range c.Members {
				c.WaitReady(m)
			}
		})
	}
}

// flood opens floodConns connections to addr, writes first on each and
// leaves them idle. They are closed at cleanup.
func flood(t *testing.T, addr string, first []byte) []net.Conn {
	t.Helper()
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range floodConns {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Logf("dial %d refused: %v", len(conns), err)
			break
		}
		conns = append(conns, c)
		if len(first) > 0 {
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			c.Write(first)
		}
	}
	if len(conns) == 0 {
		t.Fatalf("no connection to %s could be opened", addr)
	}
	return conns
}

// waitGrowth returns how many goroutines the process has above before,
// once the count has not changed for a second (the server side accepts
// the flood asynchronously), or after 15s.
func waitGrowth(before int) int {
	deadline := time.Now().Add(15 * time.Second)
	last, stable := runtime.NumGoroutine(), 0
	for time.Now().Before(deadline) && stable < 20 {
		<-time.After(50 * time.Millisecond) // sampling a counter that has no notification
		n := runtime.NumGoroutine()
		if n == last {
			stable++
		} else {
			stable = 0
		}
		last = n
	}
	return last - before
}
