package testcluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/crashsim"
	"github.com/raftkit/raftkit/internal/faultnet"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
)

// FastRaft shortens raft's timeouts for loopback clusters: elections in
// well under a second. It keeps raft's ratios (LeaderLeaseTimeout below
// HeartbeatTimeout) so that behaviour matches production, only faster.
func FastRaft(rc *raft.Config) {
	rc.HeartbeatTimeout = 500 * time.Millisecond
	rc.ElectionTimeout = 500 * time.Millisecond
	rc.LeaderLeaseTimeout = 250 * time.Millisecond
	rc.CommitTimeout = 5 * time.Millisecond
}

// FastAutopilot returns the autopilot settings test clusters use unless
// Options.Autopilot says otherwise: the production behaviour (joining
// voters enter as non-voters and are promoted once stable), on a
// loopback time scale. Dead members are removed only after the default
// DeadServerThreshold (24h), so tests that stop members keep them.
func FastAutopilot() raftsync.AutopilotConfig {
	return raftsync.AutopilotConfig{
		LastContactThreshold:    500 * time.Millisecond,
		ServerStabilizationTime: 300 * time.Millisecond,
		UpdateInterval:          100 * time.Millisecond,
		ReconcileInterval:       100 * time.Millisecond,
	}
}

// Options shape a test cluster.
type Options struct {
	// Configure, when set, adjusts each member's Config before Open.
	Configure func(i int, cfg *raftsync.Config)
	// NewFSM makes each member's FSM. Default: NewKV.
	NewFSM func(i int) raft.FSM
	// TLS, when set, gives each member its TLS config.
	TLS func(i int) *tls.Config
	// NonVoters is how many of the last members join as non-voters.
	NonVoters int
	// Network, when set, carries every member's outgoing connections so
	// that tests can cut links.
	Network *faultnet.Network
	// LogStore is every member's Config.LogStore (default: nil, bolt).
	LogStore raftsync.LogStoreFactory
	// Spares is how many members, after the n that New starts, are
	// configured (ID, Dir, Configure) but not started: tests add them
	// later with Join. Their Join targets are the first n members.
	Spares int
	// Autopilot, when set, is every member's Config.Autopilot; nil means
	// FastAutopilot(). Configure may still change it per member.
	Autopilot *raftsync.AutopilotConfig
}

// Member is one node of a Cluster.
type Member struct {
	Index int
	ID    string
	// Dir is the member's data directory; Rejoin gives it a fresh one.
	Dir  string
	Addr string // the advertised address, stable across restarts
	FSM  raft.FSM
	Node *raftsync.Node
	cfg  raftsync.Config
	// started is set once a node ran on Dir.
	started bool
	// crash crashes the node opened last on the member's Config.
	crash crashsim.Switch
}

// KV returns the member's *KV: its FSM itself, or the KV an FSM type
// embeds.
func (m *Member) KV() *KV { return m.FSM.(interface{ KVStore() *KV }).KVStore() }

// Cluster is a set of members in one process.
type Cluster struct {
	t       testing.TB
	opts    Options
	base    string
	mu      sync.Mutex
	Members []*Member
	dirs    int // fresh directories handed out by Rejoin
}

// New starts an n-member cluster: member 0 bootstraps, the others join
// through it. It waits until every member is Ready and registers Close with
// t.Cleanup.
func New(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	base := t.TempDir() // registered first, so removed after Close
	c := &Cluster{t: t, opts: opts, base: base}
	t.Cleanup(c.Close)
	for i := 0; i < n+opts.Spares; i++ {
		m := &Member{Index: i, ID: fmt.Sprintf("node%d", i), Dir: filepath.Join(base, fmt.Sprintf("node%d", i))}
		var join []string
		switch {
		case i > 0 && i < n:
			join = []string{c.Members[0].Addr}
		case i >= n:
			for _, o := range c.Members[:n] {
				join = append(join, o.Addr)
			}
		}
		c.Members = append(c.Members, m)
		m.cfg = c.config(m, i == 0, i >= n-opts.NonVoters && i > 0 && i < n, join)
		if i >= n {
			continue // a spare: Join adds it
		}
		c.Start(m)
		if i == 0 {
			c.WaitReady(m)
		}
	}
	for _, m := range c.Members[:n] {
		c.WaitReady(m)
	}
	for _, m := range c.Members[1:n] {
		c.WaitVoter(m)
	}
	return c
}

// WaitVoter waits up to 20s until m, when it was configured to vote, is a
// voter in the leader's configuration: with autopilot on, a joining voter
// enters as a non-voter and is promoted once stable. It returns at once
// for a non-voter.
func (c *Cluster) WaitVoter(m *Member) {
	c.t.Helper()
	if m.cfg.NonVoter {
		return
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if present, suffrage, _ := c.InConfiguration(m); present && suffrage == raft.Voter {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatalf("%s not promoted to voter within 20s", m.ID)
}

// config builds member m's Config (Configure applied last).
func (c *Cluster) config(m *Member, bootstrap, nonVoter bool, join []string) raftsync.Config {
	cfg := raftsync.Config{
		ID:         m.ID,
		Dir:        m.Dir,
		Addr:       "127.0.0.1:0",
		Bootstrap:  bootstrap,
		NonVoter:   nonVoter,
		Join:       join,
		Logger:     Logger(c.t, m.ID),
		RaftConfig: FastRaft,
		LogStore:   c.opts.LogStore,
		Autopilot:  FastAutopilot(),
		// KV's refusal, testable with errors.Is on every member.
		ApplyErrors: []error{ErrBadCommand},
	}
	if c.opts.Autopilot != nil {
		cfg.Autopilot = *c.opts.Autopilot
	}
	if m.Addr != "" {
		cfg.Addr = m.Addr
	}
	if c.opts.TLS != nil {
		cfg.TLS = c.opts.TLS(m.Index)
	}
	if c.opts.Network != nil {
		cfg.DialContext = c.opts.Network.Dialer(m.ID)
	}
	if c.opts.Configure != nil {
		c.opts.Configure(m.Index, &cfg)
	}
	m.crash.Install(&cfg)
	return cfg
}

// Join starts m as a new member, a voter or a non-voter, with a fresh
// data directory when it was a member before (see Rejoin); Open joins it
// through the running members (or, for a spare, through the first members
// New started). It does not wait for m to be Ready.
func (c *Cluster) Join(m *Member, nonVoter bool) error {
	c.mu.Lock()
	var join []string
	for _, o := range c.Members {
		if o != m && o.Node != nil {
			join = append(join, o.Addr)
		}
	}
	started := m.started
	c.mu.Unlock()
	if len(join) == 0 {
		join = m.cfg.Join
	}
	if started {
		c.fresh(m)
	}
	m.cfg = c.config(m, false, nonVoter, join)
	return c.TryStart(m)
}

// fresh gives m a new, empty data directory, for a member that comes back
// after its removal (a removed member's directory is not a way back in).
func (c *Cluster) fresh(m *Member) {
	c.mu.Lock()
	c.dirs++
	m.Dir = filepath.Join(c.base, fmt.Sprintf("%s.%d", m.ID, c.dirs))
	m.started = false
	c.mu.Unlock()
}

// Remove removes m from the cluster's configuration through any running
// member other than m (the request is forwarded to the leader), then
// leaves m's node running: the test decides when it closes. It returns the
// RemoveServer error; ErrIndeterminate means the removal may or may not
// have happened.
func (c *Cluster) Remove(ctx context.Context, m *Member) error {
	via := m.Node
	for _, o := range c.Running() {
		if o != m {
			via = o.Node
			break
		}
	}
	if via == nil {
		return fmt.Errorf("testcluster: no running member to remove %s through", m.ID)
	}
	return via.RemoveServer(ctx, m.ID)
}

// InConfiguration reports whether the latest raft configuration the
// running members' leader holds lists m, and as what; known is false when
// no running member leads.
func (c *Cluster) InConfiguration(m *Member) (present bool, suffrage raft.ServerSuffrage, known bool) {
	for _, o := range c.Running() {
		if o.Node.State() != raft.Leader {
			continue
		}
		f := o.Node.Raft().GetConfiguration()
		if f.Error() != nil {
			continue
		}
		for _, s := range f.Configuration().Servers {
			if string(s.ID) == m.ID {
				return true, s.Suffrage, true
			}
		}
		return false, 0, true
	}
	return false, 0, false
}

// Start opens m's node (again, after Stop) with a fresh FSM of the
// configured kind, on the same address as before.
func (c *Cluster) Start(m *Member) {
	c.t.Helper()
	if err := c.TryStart(m); err != nil {
		c.t.Fatalf("opening %s: %v", m.ID, err)
	}
}

// TryStart is Start returning the error.
func (c *Cluster) TryStart(m *Member) error {
	cfg := m.cfg
	cfg.Dir = m.Dir
	if m.Addr != "" {
		cfg.Addr = m.Addr
	}
	if c.opts.NewFSM != nil {
		m.FSM = c.opts.NewFSM(m.Index)
	} else {
		m.FSM = NewKV()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	node, err := raftsync.Open(ctx, cfg, m.FSM)
	if err != nil {
		return err
	}
	c.mu.Lock()
	m.Node = node
	m.Addr = node.AdvertiseAddr()
	m.started = true
	c.mu.Unlock()
	if c.opts.Network != nil {
		c.opts.Network.Register(m.ID, m.Addr)
	}
	return nil
}

// Stop closes m's node cleanly.
func (c *Cluster) Stop(m *Member) {
	c.t.Helper()
	c.mu.Lock()
	node := m.Node
	m.Node = nil
	c.mu.Unlock()
	if node != nil {
		if err := node.Close(); err != nil {
			c.t.Errorf("closing %s: %v", m.ID, err)
		}
	}
}

// Detach forgets m's node without closing it and returns it, for tests
// that end it some other way (a simulated crash).
func (c *Cluster) Detach(m *Member) *raftsync.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	node := m.Node
	m.Node = nil
	return node
}

// Crash stops m like a killed process: no final applied-index record.
func (c *Cluster) Crash(m *Member) {
	c.t.Helper()
	if node := c.Detach(m); node != nil {
		if err := m.crash.Crash(node); err != nil {
			c.t.Errorf("crashing %s: %v", m.ID, err)
		}
	}
}

// Restart stops and starts m.
func (c *Cluster) Restart(m *Member) {
	c.t.Helper()
	c.Stop(m)
	c.Start(m)
}

// Close stops every member. It is registered with t.Cleanup by New.
func (c *Cluster) Close() {
	for _, m := range c.Members {
		c.Stop(m)
	}
}

// Running returns the members whose node is open.
func (c *Cluster) Running() []*Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Member
	for _, m := range c.Members {
		if m.Node != nil {
			out = append(out, m)
		}
	}
	return out
}

// WaitReady waits up to 20s for m to be Ready.
func (c *Cluster) WaitReady(m *Member) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.Node.WaitReady(ctx); err != nil {
		c.t.Fatalf("%s not ready: %v", m.ID, err)
	}
}

// Leader waits up to 10s for a running member to be the leader with its
// term's first entry applied (Ready), and returns it.
func (c *Cluster) Leader() *Member {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range c.Running() {
			if m.Node.State() == raft.Leader && m.Node.Readiness().State == readiness.Ready {
				return m
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatal("no ready leader within 10s")
	return nil
}

// Followers returns the running members other than the current leader.
func (c *Cluster) Followers() []*Member {
	c.t.Helper()
	l := c.Leader()
	var out []*Member
	for _, m := range c.Running() {
		if m != l {
			out = append(out, m)
		}
	}
	return out
}

// Logger returns an hclog logger that writes through t.Log at Warn level,
// or at the level named by the RAFTKIT_TEST_LOG environment variable.
func Logger(t testing.TB, name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   name,
		Level:  hclog.LevelFromString(envOr("RAFTKIT_TEST_LOG", "warn")),
		Output: newTestWriter(t),
	})
}
