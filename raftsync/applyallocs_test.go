package raftsync_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/snapshot"
)

// BenchmarkApplyAllocs compares the allocations of one Apply on a raftkit
// leader with one raft.Apply on a bare hashicorp/raft leader wired the
// way raftkit wires it (bolt log behind a 1024-entry log cache, loopback
// TCP transport with one RPC in flight, the same raft.Config and FSM).
// Allocations are counted over the whole process, followers included,
// so both sides pay for replication alike.
//
//	go test -run '^$' -bench ApplyAllocs -benchmem ./raftsync
func BenchmarkApplyAllocs(b *testing.B) {
	cmd := testcluster.Set("key", "0123456789012345678901234567890123456789")
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("raftkit/writers=%d", writers), func(b *testing.B) {
			// Autopilot off, as in the bench command: its periodic polls
			// allocate by the second, not per Apply, and bare raft has
			// none.
			c := testcluster.New(b, 3, testcluster.Options{Autopilot: &raftsync.AutopilotConfig{Disabled: true}})
			leader := c.Leader()
			runWriters(b, writers, func() error {
				_, err := leader.Node.Apply(b.Context(), cmd)
				return err
			})
		})
		b.Run(fmt.Sprintf("bareraft/writers=%d", writers), func(b *testing.B) {
			leader := newBareCluster(b)
			runWriters(b, writers, func() error { return leader.Apply(cmd, 0).Error() })
		})
	}
}

// runWriters runs apply b.N times over writers goroutines.
func runWriters(b *testing.B, writers int, apply func() error) {
	b.Helper()
	b.ReportAllocs()
	var left atomic.Int64
	left.Store(int64(b.N))
	done := make(chan error, writers)
	b.ResetTimer()
	for range writers {
		go func() {
			for left.Add(-1) >= 0 {
				if err := apply(); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range writers {
		if err := <-done; err != nil {
			b.Error(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}

// newBareCluster starts three bare raft nodes, bootstrapped together, and
// returns the leader. Cleanup shuts them down.
func newBareCluster(b *testing.B) *raft.Raft {
	b.Helper()
	base := b.TempDir()
	type node struct {
		r     *raft.Raft
		trans *raft.NetworkTransport
		store *raftboltdb.BoltStore
	}
	nodes := make([]*node, 3)
	var conf raft.Configuration
	for i := range nodes {
		trans, err := raft.NewTCPTransportWithConfig("127.0.0.1:0", nil, &raft.NetworkTransportConfig{
			MaxPool: 3, Timeout: 10 * time.Second, MaxRPCsInFlight: 1,
			Logger: testcluster.Logger(b, fmt.Sprintf("bare%d.transport", i)),
		})
		if err != nil {
			b.Fatal(err)
		}
		nodes[i] = &node{trans: trans}
		conf.Servers = append(conf.Servers, raft.Server{
			Suffrage: raft.Voter, ID: raft.ServerID(fmt.Sprintf("bare%d", i)), Address: trans.LocalAddr(),
		})
	}
	b.Cleanup(func() {
		for _, n := range nodes {
			if n.r != nil {
				n.r.Shutdown().Error()
			}
			n.trans.CloseStreams()
			n.trans.Close()
			if n.store != nil {
				n.store.Close()
			}
		}
	})
	for i, n := range nodes {
		dir := filepath.Join(base, fmt.Sprintf("bare%d", i))
		snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, testcluster.Logger(b, fmt.Sprintf("bare%d.snap", i)))
		if err != nil {
			b.Fatal(err)
		}
		n.store, err = raftboltdb.New(raftboltdb.Options{
			Path:        filepath.Join(dir, "raft.db"),
			BoltOptions: &bolt.Options{Timeout: time.Second},
		})
		if err != nil {
			b.Fatal(err)
		}
		logs, err := raft.NewLogCache(1024, n.store)
		if err != nil {
			b.Fatal(err)
		}
		rc := raftsync.DefaultRaftConfig()
		snapshot.DefaultPolicy().ApplyTo(rc)
		testcluster.FastRaft(rc)
		rc.LocalID = conf.Servers[i].ID
		rc.Logger = testcluster.Logger(b, fmt.Sprintf("bare%d.raft", i))
		if err := raft.BootstrapCluster(rc, logs, n.store, snaps, n.trans, conf); err != nil {
			b.Fatal(err)
		}
		if n.r, err = raft.NewRaft(rc, testcluster.NewKV(), logs, n.store, snaps, n.trans); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			if n.r.State() == raft.Leader {
				if err := n.r.Barrier(10 * time.Second).Error(); err == nil {
					return n.r
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatal("bare cluster: no leader within 20s")
	return nil
}
