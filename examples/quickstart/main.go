// Command quickstart runs a three-node raftkit cluster inside one process,
// on loopback with temporary directories, and walks through what the
// library does: readiness, writes through any node, the three read levels,
// and a follower restarting while the others keep writing.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
)

type member struct {
	id   string
	cfg  raftsync.Config
	fsm  *configFSM
	node *raftsync.Node
}

func main() {
	if err := run(os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// run walks through the demo, printing to out; the nodes log to logs.
func run(out, logs io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base, err := os.MkdirTemp("", "raftkit-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)
	// The default Config.Logger (Info level), written to logs: routine
	// events, such as the restart below, log nothing above INFO.
	logger := hclog.New(&hclog.LoggerOptions{Name: "raftkit", Level: hclog.Info, Output: logs})

	// 1. Start three nodes: the first bootstraps, the others join it.
	fmt.Fprintln(out, "== starting a three-node cluster on loopback")
	members := make([]*member, 3)
	for i := range members {
		m := &member{id: fmt.Sprintf("node%d", i+1)}
		m.cfg = raftsync.Config{
			ID:        m.id,
			Dir:       filepath.Join(base, m.id),
			Addr:      "127.0.0.1:0",
			Bootstrap: i == 0,
			Logger:    logger,
			// A joining voter enters as a non-voter and autopilot promotes
			// it once it has been healthy this long (default 10s).
			Autopilot: raftsync.AutopilotConfig{ServerStabilizationTime: time.Second},
			RaftConfig: func(rc *raft.Config) { // LAN-speed elections for the demo
				rc.HeartbeatTimeout = 300 * time.Millisecond
				rc.ElectionTimeout = 300 * time.Millisecond
				rc.LeaderLeaseTimeout = 150 * time.Millisecond
			},
		}
		if i > 0 {
			m.cfg.Join = []string{members[0].node.AdvertiseAddr()}
		}
		if err := m.open(ctx); err != nil {
			return err
		}
		members[i] = m
		start := time.Now()
		if err := m.node.WaitReady(ctx); err != nil {
			return fmt.Errorf("%s: %w", m.id, err)
		}
		fmt.Fprintf(out, "   %s listening on %s, ready after %v\n", m.id, m.node.AdvertiseAddr(), time.Since(start).Round(time.Millisecond))
	}
	defer func() {
		for _, m := range members {
			if m.node != nil {
				m.node.Close()
			}
		}
	}()
	leaderID, _ := members[0].node.Leader()
	fmt.Fprintln(out, "   leader:", leaderID)
	for _, m := range members[1:] {
		if err := waitPromoted(ctx, m.node); err != nil {
			return fmt.Errorf("%s: %w", m.id, err)
		}
		fmt.Fprintf(out, "   %s: %s\n", m.id, m.node.Status().Membership)
	}

	// 2. Write through a follower: it forwards to the leader.
	follower := members[0]
	for _, m := range members {
		if m.id != leaderID {
			follower = m
			break
		}
	}
	fmt.Fprintf(out, "== writing three entries through follower %s\n", follower.id)
	var last uint64
	for i, kv := range [][2]string{{"route./api", "http://10.0.0.5:8080"}, {"route./web", "http://10.0.0.6:8080"}, {"rate-limit", "100/s"}} {
		res, err := follower.node.Apply(ctx, set(kv[0], kv[1]))
		if err != nil {
			return fmt.Errorf("write %d: %w", i, err)
		}
		last = res.Index
		fmt.Fprintf(out, "   %s = %s  (log index %d)\n", kv[0], kv[1], res.Index)
	}

	// 3. Read it back on every node at every level.
	fmt.Fprintln(out, "== reading route./api on every node, at every consistency level")
	for _, m := range members {
		for _, level := range []consistency.Level{consistency.Strong, consistency.Lease, consistency.Stale} {
			if level == consistency.Stale {
				// Stale reads are local; read-your-writes is WaitIndex.
				if err := m.node.WaitIndex(ctx, last); err != nil {
					return err
				}
			}
			var v string
			if err := m.node.Read(ctx, level, func() error { v, _ = m.fsm.Get("route./api"); return nil }); err != nil {
				return fmt.Errorf("%s %v read: %w", m.id, level, err)
			}
			fmt.Fprintf(out, "   %-6s %-6s -> %s\n", m.id, level, v)
		}
	}

	// 4. Restart a follower while the others keep writing, and watch it
	// come back.
	fmt.Fprintf(out, "== restarting follower %s while the cluster keeps writing\n", follower.id)
	if err := follower.node.Close(); err != nil {
		return err
	}
	follower.node = nil
	var writer *member
	for _, m := range members {
		if m != follower {
			writer = m
			break
		}
	}
	for i := 0; i < 200; i++ {
		res, err := writer.node.Apply(ctx, set(fmt.Sprintf("flag.%03d", i), "on"))
		if err != nil {
			return err
		}
		last = res.Index
	}
	fmt.Fprintf(out, "   wrote 200 entries while it was down (last index %d)\n", last)
	restartAt := time.Now()
	// Every readiness transition, from inside Open on: the node recovers
	// from its own disk before Open returns, then catches up with the
	// leader.
	follower.cfg.OnReadinessChange = func(_, st readiness.Status) {
		fmt.Fprintf(out, "   +%-8v %-11s applied=%-4d persisted=%-4d sync=%-4d %s\n",
			time.Since(restartAt).Round(100*time.Microsecond), st.State, st.Applied, st.Persisted, st.SyncIndex, st.Reason)
	}
	if err := follower.open(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "   Open returned after %v\n", time.Since(restartAt).Round(time.Millisecond))
	if err := follower.node.WaitReady(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "   %s ready %v after restart, applied index %d >= %d\n", follower.id, time.Since(restartAt).Round(time.Millisecond), follower.node.AppliedIndex(), last)
	if v, _ := follower.fsm.Get("flag.199"); v != "on" {
		return errors.New("restarted follower is missing a write made while it was down")
	}

	// 5. Back up the whole cluster's state, change it, restore the backup.
	if err := backupAndRestore(ctx, out, members, base); err != nil {
		return err
	}
	fmt.Fprintln(out, "== done: every node holds the same configuration")
	return nil
}

func backupAndRestore(ctx context.Context, out io.Writer, members []*member, dir string) error {
	fmt.Fprintln(out, "== backup, change, restore")
	var leader *member
	for _, m := range members {
		if m.node.State() == raft.Leader {
			leader = m
		}
	}
	if leader == nil {
		return errors.New("no leader for the restore")
	}
	path := filepath.Join(dir, "config.backup")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := members[2].node.Backup(ctx, f); err != nil { // any node can take a backup
		f.Close()
		return fmt.Errorf("backup: %w", err)
	}
	info, _ := f.Stat()
	f.Close()
	fmt.Fprintf(out, "   backup of the cluster written by %s: %d bytes\n", members[2].id, info.Size())

	if _, err := leader.node.Apply(ctx, set("route./api", "http://10.9.9.9:1")); err != nil {
		return err
	}
	v, _ := leader.fsm.Get("route./api")
	fmt.Fprintf(out, "   changed route./api to %s\n", v)

	f, err = os.Open(path)
	if err != nil {
		return err
	}
	idx, err := leader.node.Restore(ctx, f) // restore goes through the leader
	f.Close()
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, m := range members {
		if err := m.node.WaitIndex(ctx, idx); err != nil {
			return err
		}
		v, _ := m.fsm.Get("route./api")
		fmt.Fprintf(out, "   %s after restore: route./api = %s\n", m.id, v)
	}
	return nil
}

func (m *member) open(ctx context.Context) error {
	m.fsm = newConfigFSM()
	node, err := raftsync.Open(ctx, m.cfg, m.fsm)
	if err != nil {
		return fmt.Errorf("opening %s: %w", m.id, err)
	}
	m.node = node
	if m.cfg.Addr == "127.0.0.1:0" {
		m.cfg.Addr = node.AdvertiseAddr() // reopen on the same address
	}
	return nil
}

// waitPromoted waits until autopilot has promoted n, which joined as a
// voter and entered the cluster as a non-voter.
func waitPromoted(ctx context.Context, n *raftsync.Node) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for n.Status().Membership.Role != raftsync.RoleVoter {
		select {
		case <-ctx.Done():
			return fmt.Errorf("not promoted: %w", ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}
