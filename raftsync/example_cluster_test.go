package raftsync_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/certgen"
	"github.com/raftkit/raftkit/raftsync"
)

// kv is the application FSM of the examples below: a string map with
// JSON snapshots, so it can be backed up and restored.
type kv struct {
	mu sync.RWMutex
	m  map[string]string
}

func newKV() *kv { return &kv{m: map[string]string{}} }

// set encodes the command that sets key to value.
func set(key, value string) []byte {
	b, _ := json.Marshal([2]string{key, value})
	return b
}

func (s *kv) Apply(l *raft.Log) interface{} {
	var c [2]string
	if err := json.Unmarshal(l.Data, &c); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[c[0]] = c[1]
	return nil
}

func (s *kv) get(key string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[key]
}

func (s *kv) Snapshot() (raft.FSMSnapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, err := json.Marshal(s.m)
	return kvSnapshot(b), err
}

func (s *kv) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	m := map[string]string{}
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m = m
	return nil
}

type kvSnapshot []byte

func (b kvSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(b); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (kvSnapshot) Release() {}

// exampleCluster is what the examples share: three nodes on loopback,
// each with its own Dir and FSM. node1 bootstraps; node2 and node3 join.
type exampleCluster struct {
	nodes []*raftsync.Node
	fsms  []*kv
	dirs  []string
}

// startExampleCluster forms a cluster the way an application does:
// Bootstrap on the first node, Join on the others. joinAs says how node2
// and node3 join; autopilot's stabilization time is shortened so a
// joining voter is promoted within the example.
func startExampleCluster(ctx context.Context, nonVoter3 bool) (*exampleCluster, error) {
	c := &exampleCluster{}
	for i := 1; i <= 3; i++ {
		dir, err := os.MkdirTemp("", "raftsync-example-")
		if err != nil {
			c.close()
			return nil, err
		}
		c.dirs = append(c.dirs, dir)
		cfg := raftsync.Config{
			ID:        fmt.Sprintf("node%d", i),
			Dir:       dir,
			Addr:      "127.0.0.1:0",
			Logger:    hclog.NewNullLogger(),
			Autopilot: raftsync.AutopilotConfig{ServerStabilizationTime: 200 * time.Millisecond},
		}
		if i == 1 {
			cfg.Bootstrap = true
		} else {
			cfg.Join = []string{c.nodes[0].Addr()}
			cfg.NonVoter = i == 3 && nonVoter3
		}
		fsm := newKV()
		node, err := raftsync.Open(ctx, cfg, fsm)
		if err != nil {
			c.close()
			return nil, err
		}
		c.nodes = append(c.nodes, node)
		c.fsms = append(c.fsms, fsm)
		if err := node.WaitReady(ctx); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

func (c *exampleCluster) close() {
	for i := len(c.nodes) - 1; i >= 0; i-- {
		_ = c.nodes[i].Close()
	}
	for _, d := range c.dirs {
		_ = os.RemoveAll(d)
	}
}

// waitRoles polls node's view of the membership until every node has the
// role wanted, or ctx ends.
func waitRoles(ctx context.Context, c *exampleCluster, want ...string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		done := true
		for i, n := range c.nodes {
			if n.Status().Membership.Role != want[i] {
				done = false
			}
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Example_formCluster forms a three-node cluster: node1 bootstraps it,
// node2 joins as a voter (autopilot adds it as a non-voter and promotes it
// once it has stayed healthy) and node3 joins as a non-voter, which
// replicates the log and serves reads but never votes.
func Example_formCluster() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := startExampleCluster(ctx, true)
	if err != nil {
		fmt.Println("start:", err)
		return
	}
	defer c.close()

	if err := waitRoles(ctx, c, "voter", "voter", "non-voter"); err != nil {
		fmt.Println("roles:", err)
		return
	}
	var members []string
	for _, n := range c.nodes {
		members = append(members, n.ID()+": "+n.Status().Membership.Role)
	}
	sort.Strings(members)
	for _, m := range members {
		fmt.Println(m)
	}
	// Output:
	// node1: voter
	// node2: voter
	// node3: non-voter
}

// ExampleNode_Read reads on a follower at each of the three levels. The
// closure runs against the node's local FSM; the level decides what the
// library proves before it runs.
func ExampleNode_Read() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := startExampleCluster(ctx, false)
	if err != nil {
		fmt.Println("start:", err)
		return
	}
	defer c.close()

	if _, err := c.nodes[0].Apply(ctx, set("route:/api", "10.0.0.7:8080")); err != nil {
		fmt.Println("apply:", err)
		return
	}
	follower, fsm := c.nodes[1], c.fsms[1]
	for _, level := range []consistency.Level{consistency.Strong, consistency.Lease, consistency.Stale} {
		var backend string
		err := follower.Read(ctx, level, func() error {
			backend = fsm.get("route:/api")
			return nil
		})
		fmt.Printf("%s: %q %v\n", level, backend, err)
	}
	// Output:
	// strong: "10.0.0.7:8080" <nil>
	// lease: "10.0.0.7:8080" <nil>
	// stale: "10.0.0.7:8080" <nil>
}

// ExampleNode_WaitIndex reads your own write on another node: Apply
// returns the write's index, and WaitIndex on any node returns once that
// node has applied it, so a local read there sees the write.
func ExampleNode_WaitIndex() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := startExampleCluster(ctx, false)
	if err != nil {
		fmt.Println("start:", err)
		return
	}
	defer c.close()

	res, err := c.nodes[1].Apply(ctx, set("route:/shop", "10.0.0.9:80")) // forwarded to the leader
	if err != nil {
		fmt.Println("apply:", err)
		return
	}
	if err := c.nodes[2].WaitIndex(ctx, res.Index); err != nil {
		fmt.Println("wait:", err)
		return
	}
	fmt.Println(c.fsms[2].get("route:/shop"))
	// Output:
	// 10.0.0.9:80
}

// ExampleNode_SubscribeChanges rebuilds a derived view only when the
// replicated state changes: the first notification covers everything
// applied before the node was Ready, later ones a range of new entries.
func ExampleNode_SubscribeChanges() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := startExampleCluster(ctx, false)
	if err != nil {
		fmt.Println("start:", err)
		return
	}
	defer c.close()

	sub := c.nodes[2].SubscribeChanges()
	defer sub.Close()
	first := <-sub.C()
	fmt.Println("initial:", first.Initial)

	res, err := c.nodes[0].Apply(ctx, set("route:/new", "10.0.0.3:80"))
	if err != nil {
		fmt.Println("apply:", err)
		return
	}
	for {
		select {
		case ch := <-sub.C():
			if ch.To >= res.Index {
				fmt.Println("covers the write:", ch.From < res.Index, c.fsms[2].get("route:/new"))
				return
			}
		case <-ctx.Done():
			fmt.Println("no change:", ctx.Err())
			return
		}
	}
	// Output:
	// initial: true
	// covers the write: true 10.0.0.3:80
}

// ExampleNode_Backup backs the cluster up, changes it, and restores the
// backup: the restored state is the one backed up, on every node.
func ExampleNode_Backup() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := startExampleCluster(ctx, false)
	if err != nil {
		fmt.Println("start:", err)
		return
	}
	defer c.close()
	leader := c.nodes[0]

	if _, err := leader.Apply(ctx, set("route:/api", "v1")); err != nil {
		fmt.Println("apply:", err)
		return
	}
	var backup bytes.Buffer
	if err := c.nodes[1].Backup(ctx, &backup); err != nil { // any member can back up
		fmt.Println("backup:", err)
		return
	}
	if _, err := leader.Apply(ctx, set("route:/api", "v2")); err != nil {
		fmt.Println("apply:", err)
		return
	}
	index, err := leader.Restore(ctx, &backup) // restore runs on the leader
	if err != nil {
		fmt.Println("restore:", err)
		return
	}
	for i, n := range c.nodes {
		if err := n.WaitIndex(ctx, index); err != nil {
			fmt.Println("wait:", err)
			return
		}
		fmt.Printf("%s: %s\n", n.ID(), c.fsms[i].get("route:/api"))
	}
	// Output:
	// node1: v1
	// node2: v1
	// node3: v1
}

// Example_tls runs a two-node cluster over mutual TLS with certificates
// as cmd/raftkit-gencert writes them: a CA bundle every node trusts and,
// per node, a certificate that names the node ID.
func Example_tls() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	certDir, err := exampleCerts("node1", "node2") // raftkit-gencert ca / node -id ...
	if err != nil {
		fmt.Println("certs:", err)
		return
	}
	defer os.RemoveAll(certDir)

	tlsFor := func(id string) (*tls.Config, error) {
		cert, err := tls.LoadX509KeyPair(filepath.Join(certDir, id+".pem"), filepath.Join(certDir, id+"-key.pem"))
		if err != nil {
			return nil, err
		}
		caPEM, err := os.ReadFile(filepath.Join(certDir, "ca.pem"))
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS13}, nil
	}

	var nodes []*raftsync.Node
	defer func() {
		for i := len(nodes) - 1; i >= 0; i-- {
			_ = nodes[i].Close()
		}
	}()
	for i, id := range []string{"node1", "node2"} {
		tc, err := tlsFor(id)
		if err != nil {
			fmt.Println("tls:", err)
			return
		}
		dir, err := os.MkdirTemp("", "raftsync-example-tls-")
		if err != nil {
			fmt.Println(err)
			return
		}
		defer os.RemoveAll(dir)
		cfg := raftsync.Config{ID: id, Dir: dir, Addr: "127.0.0.1:0", TLS: tc, Logger: hclog.NewNullLogger()}
		if i == 0 {
			cfg.Bootstrap = true
		} else {
			cfg.Join = []string{nodes[0].Addr()}
		}
		n, err := raftsync.Open(ctx, cfg, newKV())
		if err != nil {
			fmt.Println("open:", err)
			return
		}
		nodes = append(nodes, n)
		if err := n.WaitReady(ctx); err != nil {
			fmt.Println("ready:", err)
			return
		}
	}
	res, err := nodes[1].Apply(ctx, set("k", "v"))
	fmt.Println("write through node2 over mTLS:", err == nil && res.Index > 0)
	// Output:
	// write through node2 over mTLS: true
}

// exampleCerts writes what `raftkit-gencert ca` and `raftkit-gencert node`
// write: dir/ca.pem and, per node ID, dir/ID.pem and dir/ID-key.pem.
func exampleCerts(ids ...string) (string, error) {
	dir, err := os.MkdirTemp("", "raftsync-example-certs-")
	if err != nil {
		return "", err
	}
	ca, err := certgen.NewCA("example CA", time.Hour)
	if err != nil {
		return dir, err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca.CertPEM(), 0o600); err != nil {
		return dir, err
	}
	for _, id := range ids {
		certPEM, keyPEM, err := ca.Issue(certgen.Node{ID: id, Hosts: []string{"127.0.0.1"}, Validity: time.Hour})
		if err != nil {
			return dir, err
		}
		if err := os.WriteFile(filepath.Join(dir, id+".pem"), certPEM, 0o600); err != nil {
			return dir, err
		}
		if err := os.WriteFile(filepath.Join(dir, id+"-key.pem"), keyPEM, 0o600); err != nil {
			return dir, err
		}
	}
	return dir, nil
}
