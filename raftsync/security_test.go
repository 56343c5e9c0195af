package raftsync_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/mux"
	"github.com/raftkit/raftkit/internal/rpc"
	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/internal/testtls"
	"github.com/raftkit/raftkit/internal/wire"
	"github.com/raftkit/raftkit/raftsync"
)

var loopback = net.ParseIP("127.0.0.1")

// tlsCluster starts n members whose TLS configs are written the way an
// application writes them: the member's certificate, naming its ID, and
// the CA pool; ClientAuth unset.
func tlsCluster(t *testing.T, ca *testtls.CA, n int) *testcluster.Cluster {
	t.Helper()
	return testcluster.New(t, n, testcluster.Options{TLS: func(i int) *tls.Config {
		return ca.AppConfig(ca.Issue(t, fmt.Sprintf("node%d", i), loopback))
	}})
}

// memberIDs returns the sorted IDs of the leader's latest configuration.
func memberIDs(t *testing.T, m *testcluster.Member) string {
	t.Helper()
	var ids []string
	for _, s := range m.Node.Status().Members {
		ids = append(ids, s.ID)
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

func joinerConfig(t *testing.T, id string, target string, conf *tls.Config) raftsync.Config {
	return raftsync.Config{
		ID: id, Dir: t.TempDir(), Addr: "127.0.0.1:0", Join: []string{target},
		TLS: conf, RaftConfig: testcluster.FastRaft, Logger: testcluster.Logger(t, id),
	}
}

func TestMutualTLSJoinNeedsACertificateNamingTheJoiner(t *testing.T) {
	ca := testtls.NewCA(t)
	c := tlsCluster(t, ca, 3)
	leader := c.Leader()
	before := memberIDs(t, leader)

	other := testtls.NewCA(t)
	foreign := other.AppConfig(other.Issue(t, "node7", loopback))
	foreign.RootCAs = ca.Pool // it trusts the cluster; the cluster must not trust it
	stolen := ca.AppConfig(ca.Issue(t, "node1", loopback))

	refused := []struct {
		name string
		id   string
		tls  *tls.Config
		want error // nil: any error
	}{
		{"plaintext joiner", "node4", nil, mux.ErrRefused},
		{"certificate from another CA", "node7", foreign, nil},
		{"a member's certificate under a new ID", "node9", stolen, raftsync.ErrPermissionDenied},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			// A refusal ends the join at once; a failed TLS handshake is
			// retried (another member may trust the joiner's CA during a
			// rotation) until the context ends.
			timeout := 10 * time.Second
			if tt.want == nil {
				timeout = 3 * time.Second
			}
			n, err := raftsync.Open(ctxTimeout(t, timeout), joinerConfig(t, tt.id, leader.Addr, tt.tls), testcluster.NewKV())
			if err == nil {
				n.Close()
				t.Fatal("joined")
			}
			if tt.want != nil && errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("the joiner retried a refusal until its context ended: %v", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Open: %v, want %v", err, tt.want)
			}
			if got := memberIDs(t, leader); got != before {
				t.Fatalf("membership changed to %s", got)
			}
		})
	}
	t.Run("certless joiner", func(t *testing.T) {
		// raftsync refuses such a config itself; a hand-made client tries.
		var resp wire.JoinResponse
		err := rawCall(t, leader.Addr, &tls.Config{RootCAs: ca.Pool}, &wire.JoinRequest{ID: "node5", Addr: "127.0.0.1:1"}, &resp)
		if err == nil {
			t.Fatalf("a client without a certificate was answered: %+v", resp)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("refusal came as a timeout: %v", err)
		}
		if got := memberIDs(t, leader); got != before {
			t.Fatalf("membership changed to %s", got)
		}
	})

	// A new member with its own certificate joins.
	n, err := raftsync.Open(ctxTimeout(t, 20*time.Second),
		joinerConfig(t, "node3", leader.Addr, ca.AppConfig(ca.Issue(t, "node3", loopback))), testcluster.NewKV())
	if err != nil {
		t.Fatalf("member with its own certificate: %v", err)
	}
	defer n.Close()
	if got := memberIDs(t, leader); got != before+",node3" {
		t.Fatalf("members %s after the join, want %s", got, before+",node3")
	}
	// Removing it closes its raft connections on the members; the cluster
	// goes on.
	if err := leader.Node.RemoveServer(ctxTimeout(t, 10*time.Second), "node3"); err != nil {
		t.Fatal(err)
	}
	idx := mustApply(t, c.Leader(), testcluster.Set("after", "remove"))
	waitConverged(t, c, idx)
}

// rawCall sends req to addr over a node RPC connection made with conf (nil:
// plain TCP) and decodes the answer into resp; a non-OK Status comes back
// as an error wrapping raftsync's, mapped by code.
func rawCall(t *testing.T, addr string, conf *tls.Config, req, resp wire.Message) error {
	t.Helper()
	cli := rpc.NewClient(rpc.ClientOptions{Dialer: mux.Dialer{TLS: conf, Timeout: 3 * time.Second}})
	defer cli.Close()
	f, err := wire.Encode(1, req)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cli.Call(ctxTimeout(t, 5*time.Second), addr, f)
	if err != nil {
		return err
	}
	if err := wire.Decode(out, resp); err != nil {
		return err
	}
	if st := statusOf(resp); !st.OK() {
		if st.Code == wire.CodePermissionDenied {
			return fmt.Errorf("%w: %s", raftsync.ErrPermissionDenied, st.Message)
		}
		return fmt.Errorf("remote %v: %s", st.Code, st.Message)
	}
	return nil
}

func statusOf(m wire.Message) wire.Status {
	switch m := m.(type) {
	case *wire.JoinResponse:
		return m.Status
	case *wire.ApplyResponse:
		return m.Status
	case *wire.RemoveResponse:
		return m.Status
	case *wire.StatusResponse:
		return m.Status
	case *wire.RemovedNoticeResponse:
		return m.Status
	}
	return wire.Status{}
}

// raftDialer is a raft.StreamLayer that only dials, through a mux.Dialer.
type raftDialer struct {
	d    mux.Dialer
	once sync.Once
	done chan struct{}
}

func newRaftDialer(conf *tls.Config) *raftDialer {
	return &raftDialer{d: mux.Dialer{TLS: conf, Timeout: 3 * time.Second}, done: make(chan struct{})}
}

func (s *raftDialer) Accept() (net.Conn, error) { <-s.done; return nil, net.ErrClosed }
func (s *raftDialer) Close() error              { s.once.Do(func() { close(s.done) }); return nil }
func (s *raftDialer) Addr() net.Addr            { return &net.TCPAddr{IP: loopback, Port: 1} }
func (s *raftDialer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.d.Dial(ctx, string(addr), mux.KindRaft)
}

func TestPeersWithoutAMemberCertificateCanDoNothing(t *testing.T) {
	ca := testtls.NewCA(t)
	c := tlsCluster(t, ca, 3)
	mustApply(t, c.Leader(), testcluster.Set("k", "v"))
	identities := []struct {
		name string
		tls  *tls.Config
	}{
		{"anonymous plain TCP", nil},
		{"TLS without a certificate", &tls.Config{RootCAs: ca.Pool}},
		{"certificate naming no member", ca.AppConfig(ca.Issue(t, "intruder", loopback))},
	}
	for _, id := range identities {
		wrongIdentity := id.tls != nil && len(id.tls.Certificates) > 0
		refusedRPC := func(t *testing.T, err error) {
			t.Helper()
			if err == nil {
				t.Fatal("request served")
			}
			if wrongIdentity && !errors.Is(err, raftsync.ErrPermissionDenied) {
				t.Fatalf("refusal %v, want ErrPermissionDenied", err)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("refusal came as a timeout: %v", err)
			}
		}
		t.Run(id.name, func(t *testing.T) {
			leader := c.Leader()
			members := memberIDs(t, leader)
			t.Run("Apply", func(t *testing.T) {
				var resp wire.ApplyResponse
				refusedRPC(t, rawCall(t, leader.Addr, id.tls, &wire.ApplyRequest{Command: testcluster.Set("evil", "1")}, &resp))
				// A write through a member proves nothing of the refused one
				// is pending behind it.
				idx := mustApply(t, leader, testcluster.Set("after", id.name))
				waitConverged(t, c, idx)
				if _, ok := leader.KV().Get("evil"); ok {
					t.Fatal("the refused command was applied")
				}
			})
			t.Run("Join", func(t *testing.T) {
				var resp wire.JoinResponse
				refusedRPC(t, rawCall(t, leader.Addr, id.tls, &wire.JoinRequest{ID: "node9", Addr: "127.0.0.1:1"}, &resp))
				// Nor may it re-point a member's address.
				refusedRPC(t, rawCall(t, leader.Addr, id.tls, &wire.JoinRequest{ID: "node2", Addr: "127.0.0.1:1"}, &resp))
				if got := memberIDs(t, leader); got != members {
					t.Fatalf("membership changed to %s", got)
				}
				for _, m := range leader.Node.Status().Members {
					if m.Addr == "127.0.0.1:1" {
						t.Fatalf("member %s re-pointed", m.ID)
					}
				}
			})
			t.Run("Remove", func(t *testing.T) {
				var resp wire.RemoveResponse
				refusedRPC(t, rawCall(t, leader.Addr, id.tls, &wire.RemoveRequest{ID: c.Followers()[0].ID}, &resp))
				if got := memberIDs(t, leader); got != members {
					t.Fatalf("membership changed to %s", got)
				}
			})
			t.Run("TransferLeadership", func(t *testing.T) {
				// A leadership transfer is a TimeoutNow to the target.
				target := c.Followers()[0]
				term := leader.Node.Status().Term
				trans := raft.NewNetworkTransport(newRaftDialer(id.tls), 1, 3*time.Second, nil)
				defer trans.Close()
				var resp raft.TimeoutNowResponse
				err := trans.TimeoutNow(raft.ServerID(target.ID), raft.ServerAddress(target.Addr),
					&raft.TimeoutNowRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(leader.ID), Addr: []byte(leader.Addr)}}, &resp)
				if err == nil {
					t.Fatal("TimeoutNow was answered")
				}
				if wrongIdentity && !errors.Is(err, mux.ErrRefused) {
					t.Fatalf("TimeoutNow: %v, want the connection refused", err)
				}
				if l := c.Leader(); l.ID != leader.ID || l.Node.Status().Term != term {
					t.Fatalf("leadership moved to %s in term %d", l.ID, l.Node.Status().Term)
				}
			})
			t.Run("raft RPC", func(t *testing.T) {
				trans := raft.NewNetworkTransport(newRaftDialer(id.tls), 1, 3*time.Second, nil)
				defer trans.Close()
				var resp raft.AppendEntriesResponse
				err := trans.AppendEntries(raft.ServerID(leader.ID), raft.ServerAddress(leader.Addr),
					&raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("node1"), Addr: []byte(leader.Addr)}, Term: 1 << 40}, &resp)
				if err == nil {
					t.Fatal("AppendEntries was answered")
				}
				if wrongIdentity && !errors.Is(err, mux.ErrRefused) {
					t.Fatalf("AppendEntries: %v, want the connection refused", err)
				}
				if term := leader.Node.Status().Term; term >= 1<<40 {
					t.Fatal("a refused AppendEntries moved the term")
				}
			})
		})
	}
	mustApply(t, c.Leader(), testcluster.Set("still", "fine"))
}

func TestURISANBindsTheNodeToItsCluster(t *testing.T) {
	ca := testtls.NewCA(t)
	cert := func(cluster, id string) tls.Certificate {
		return ca.IssueSANs(t, id, nil, []*url.URL{raftsync.NodeURI(cluster, id)}, loopback)
	}
	c := testcluster.New(t, 3, testcluster.Options{
		TLS:       func(i int) *tls.Config { return ca.AppConfig(cert("blue", fmt.Sprintf("node%d", i))) },
		Configure: func(i int, cfg *raftsync.Config) { cfg.ClusterID = "blue" },
	})
	leader := c.Leader()
	idx := mustApply(t, leader, testcluster.Set("k", "v"))
	waitConverged(t, c, idx)
	before := memberIDs(t, leader)

	// The joiner sets no ClusterID: its certificate says which cluster it
	// belongs to, and the check is not skipped.
	green := ca.AppConfig(cert("green", "node3"))
	_, err := raftsync.Open(ctxTimeout(t, 5*time.Second), joinerConfig(t, "node3", leader.Addr, green), testcluster.NewKV())
	if !errors.Is(err, raftsync.ErrClusterMismatch) {
		t.Fatalf("joiner of another cluster: %v, want ErrClusterMismatch", err)
	}
	var resp wire.JoinResponse
	err = rawCall(t, leader.Addr, green, &wire.JoinRequest{ID: "node3", Addr: "127.0.0.1:1"}, &resp)
	if err == nil || resp.Status.Code != wire.CodeMismatch {
		t.Fatalf("join request with an empty ClusterID from another cluster's node: %v (%v), want a mismatch", err, resp.Status.Code)
	}
	if got := memberIDs(t, leader); got != before {
		t.Fatalf("membership changed to %s", got)
	}

	n, err := raftsync.Open(ctxTimeout(t, 20*time.Second), joinerConfig(t, "node3", leader.Addr, ca.AppConfig(cert("blue", "node3"))), testcluster.NewKV())
	if err != nil {
		t.Fatalf("joiner of this cluster: %v", err)
	}
	defer n.Close()
	if n.ClusterID() != "blue" {
		t.Fatalf("joined cluster %q", n.ClusterID())
	}
}

func TestTLSConfigThatCannotBeMutualIsRefused(t *testing.T) {
	ca := testtls.NewCA(t)
	cert := ca.Issue(t, "n1", loopback)
	tests := []struct {
		name string
		conf *tls.Config
	}{
		{"no CA pool", &tls.Config{Certificates: []tls.Certificate{cert}}},
		{"no certificate", &tls.Config{RootCAs: ca.Pool}},
		{"verification off", &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: ca.Pool, InsecureSkipVerify: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := raftsync.Config{ID: "n1", Dir: t.TempDir(), Addr: "127.0.0.1:0", Bootstrap: true, TLS: tt.conf}
			n, err := raftsync.Open(context.Background(), cfg, testcluster.NewKV())
			var ce *raftsync.ConfigError
			if !errors.As(err, &ce) || ce.Field != "TLS" {
				if n != nil {
					n.Close()
				}
				t.Fatalf("Open: %v, want a *ConfigError for TLS", err)
			}
		})
	}
}

// floodEnv names the address TestFloodHelper floods when the test binary
// runs as the flooding process.
const floodEnv = "RAFTKIT_TEST_FLOOD_ADDR"

// TestFloodHelper is not a test: run by
// TestRestartedFollowerBecomesReadyUnderASilentConnectionFlood as a
// separate process (an attacker is not in the victim's process, and 300
// goroutines there would starve the member's own client), it keeps 300
// connections to the address open that never send a byte, re-dialling
// each as soon as the node closes it. It prints "flooding" once 600
// connections were made, and stops when its stdin closes or after 60s.
func TestFloodHelper(t *testing.T) {
	addr := os.Getenv(floodEnv)
	if addr == "" {
		t.Skip("run by TestRestartedFollowerBecomesReadyUnderASilentConnectionFlood")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() { // the parent closes stdin to stop the flood
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	var dials atomic.Int64
	var announce sync.Once
	var flood sync.WaitGroup
	for range 300 {
		flood.Add(1)
		go func() {
			defer flood.Done()
			var d net.Dialer
			for ctx.Err() == nil {
				conn, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					select { // the node is not listening yet
					case <-time.After(10 * time.Millisecond):
					case <-ctx.Done():
					}
					continue
				}
				if dials.Add(1) >= 600 {
					announce.Do(func() { fmt.Println("flooding") })
				}
				stopRead := context.AfterFunc(ctx, func() { conn.Close() })
				conn.Read(make([]byte, 1))
				stopRead()
				conn.Close()
			}
		}()
	}
	flood.Wait()
}

func TestRestartedFollowerBecomesReadyUnderASilentConnectionFlood(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	idx := mustApply(t, c.Leader(), testcluster.Set("before", "restart"))
	waitConverged(t, c, idx)
	f := c.Followers()[0]
	addr := f.Addr
	c.Stop(f)

	// The flood starts before the follower restarts and lasts until the
	// test has what it waits for.
	cmd := exec.Command(os.Args[0], "-test.run=^TestFloodHelper$")
	cmd.Env = append(os.Environ(), floodEnv+"="+addr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	flooding := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "flooding" {
				close(flooding)
			}
		}
	}()
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("flood process: %v", err)
		}
	}()

	c.Start(f)
	select {
	case <-flooding:
	case <-time.After(30 * time.Second):
		t.Fatal("the flood did not get under way")
	}

	// A member's RPC to the flooded node gets through. With newcomers
	// refused while the handshake slots are full (the old behaviour),
	// every attempt fails until the flood stops.
	var st wire.StatusResponse
	for attempt := 1; attempt <= 3; attempt++ {
		if err = rawCall(t, addr, nil, &wire.StatusRequest{}, &st); err == nil {
			break
		}
		t.Logf("attempt %d: %v", attempt, err)
	}
	if err != nil {
		t.Fatalf("status RPC to the flooded node: %v", err)
	}
	if err := f.Node.WaitReady(ctxTimeout(t, 30*time.Second)); err != nil {
		t.Fatalf("restarted follower under the flood: %v (state %v)", err, f.Node.Status().State)
	}
	idx = mustApply(t, c.Leader(), testcluster.Set("during", "flood"))
	if err := f.Node.WaitIndex(ctxTimeout(t, 30*time.Second), idx); err != nil {
		t.Fatalf("replication to the flooded node: %v", err)
	}
}

func TestAuthorizeReplacesTheRule(t *testing.T) {
	ca := testtls.NewCA(t)
	var mu sync.Mutex
	seen := map[raftsync.RequestKind]bool{}
	authorize := func(r raftsync.PeerRequest) error {
		mu.Lock()
		seen[r.Kind] = true
		mu.Unlock()
		// An operator's certificate may write; everything else as usual.
		if r.Kind == raftsync.RequestApply && len(r.Chains) > 0 && r.Chains[0][0].Subject.CommonName == "ops" {
			return nil
		}
		return raftsync.DefaultAuthorize(r)
	}
	c := testcluster.New(t, 3, testcluster.Options{
		TLS:       func(i int) *tls.Config { return ca.AppConfig(ca.Issue(t, fmt.Sprintf("node%d", i), loopback)) },
		Configure: func(i int, cfg *raftsync.Config) { cfg.Authorize = authorize },
	})
	leader := c.Leader()
	var resp wire.ApplyResponse
	if err := rawCall(t, leader.Addr, ca.AppConfig(ca.Issue(t, "ops", loopback)), &wire.ApplyRequest{Command: testcluster.Set("by", "ops")}, &resp); err != nil {
		t.Fatalf("Apply with the operator's certificate: %v", err)
	}
	err := rawCall(t, leader.Addr, ca.AppConfig(ca.Issue(t, "intruder", loopback)), &wire.ApplyRequest{Command: testcluster.Set("by", "intruder")}, &resp)
	if !errors.Is(err, raftsync.ErrPermissionDenied) {
		t.Fatalf("Apply with another certificate: %v, want ErrPermissionDenied", err)
	}
	idx := mustApply(t, c.Followers()[0], testcluster.Set("by", "member"))
	waitConverged(t, c, idx)
	mu.Lock()
	defer mu.Unlock()
	for _, k := range []raftsync.RequestKind{raftsync.RequestJoin, raftsync.RequestRaft, raftsync.RequestApply} {
		if !seen[k] {
			t.Errorf("Authorize never saw a %v request", k)
		}
	}
}
