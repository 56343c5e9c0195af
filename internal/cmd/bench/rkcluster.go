package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/raftsync"
)

// rkNode is one raftkit member.
type rkNode struct {
	id, dir, addr string
	node          *raftsync.Node
	mem           *memKV
	durable       *durableKV
}

// last is the highest index the member's application FSM applied.
func (m *rkNode) last() uint64 {
	if m.durable != nil {
		return m.durable.Last()
	}
	return m.mem.Last()
}

// rkCluster is a raftkit cluster of three nodes in this process.
type rkCluster struct {
	base    string
	tune    tuning
	durable bool
	logger  hclog.Logger
	nodes   []*rkNode
}

// newRKCluster starts a new cluster under base: node0 bootstraps, the
// others join through it, and it returns once all three are Ready.
func newRKCluster(ctx context.Context, base string, t tuning, durable bool, logger hclog.Logger) (_ *rkCluster, err error) {
	c := &rkCluster{base: base, tune: t, durable: durable, logger: logger}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	for i := 0; i < 3; i++ {
		c.nodes = append(c.nodes, &rkNode{id: fmt.Sprintf("node%d", i), dir: filepath.Join(base, fmt.Sprintf("node%d", i))})
	}
	for i := range c.nodes {
		if err := c.open(ctx, i); err != nil {
			return nil, err
		}
		if err := c.nodes[i].node.WaitReady(ctx); err != nil {
			return nil, fmt.Errorf("bench: raftkit %s ready: %w", c.nodes[i].id, err)
		}
	}
	return c, nil
}

// config is member i's raftsync.Config.
func (c *rkCluster) config(i int) raftsync.Config {
	m := c.nodes[i]
	cfg := raftsync.Config{
		ID:         m.id,
		Dir:        m.dir,
		Addr:       "127.0.0.1:0",
		Logger:     c.logger.Named(m.id),
		RaftConfig: c.tune.apply,
		Persist:    c.tune.Persist,
		LogStore:   c.tune.logStore(),
		// Every member votes from the start, as in the bare-raft cluster
		// the figures are compared with.
		Autopilot: raftsync.AutopilotConfig{Disabled: true},
	}
	if m.addr != "" {
		cfg.Addr = m.addr
	}
	if i == 0 {
		cfg.Bootstrap = true
	} else if c.nodes[0].addr != "" {
		cfg.Join = []string{c.nodes[0].addr}
	}
	return cfg
}

// open opens member i (again): Open returns once local recovery is done.
func (c *rkCluster) open(ctx context.Context, i int) error {
	return c.openWith(ctx, i, c.config(i))
}

func (c *rkCluster) openWith(ctx context.Context, i int, cfg raftsync.Config) error {
	m := c.nodes[i]
	var app raft.FSM
	if c.durable {
		if err := os.MkdirAll(m.dir, 0o700); err != nil {
			return err
		}
		d, err := openDurableKV(filepath.Join(m.dir, durableFileName))
		if err != nil {
			return err
		}
		m.durable, m.mem, app = d, nil, d
	} else {
		m.mem, m.durable = newMemKV(), nil
		app = m.mem
	}
	n, err := raftsync.Open(ctx, cfg, app)
	if err != nil {
		if m.durable != nil {
			m.durable.Close()
			m.durable = nil
		}
		return fmt.Errorf("bench: opening raftkit %s: %w", m.id, err)
	}
	m.node = n
	if m.addr == "" {
		m.addr = n.AdvertiseAddr() // stays the same across restarts
	}
	return nil
}

// stop closes member i cleanly.
func (c *rkCluster) stop(i int) error {
	m := c.nodes[i]
	var err error
	if m.node != nil {
		err = m.node.Close()
		m.node = nil
	}
	if m.durable != nil {
		if cerr := m.durable.Close(); err == nil {
			err = cerr
		}
		m.durable = nil
	}
	return err
}

func (c *rkCluster) close() error {
	var first error
	for i := len(c.nodes) - 1; i >= 0; i-- {
		if err := c.stop(i); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (c *rkCluster) leader(ctx context.Context) (int, error) {
	idx := -1
	err := poll(ctx, "a raftkit leader all members agree on", func() bool {
		idx = -1
		var leaderID string
		for i, m := range c.nodes {
			if m.node == nil {
				return false
			}
			id, _ := m.node.Leader()
			if id == "" || (leaderID != "" && id != leaderID) {
				return false
			}
			leaderID = id
			if m.node.State() == raft.Leader {
				idx = i
			}
		}
		return idx >= 0 && c.nodes[idx].id == leaderID
	})
	if err != nil {
		return -1, err
	}
	for _, m := range c.nodes {
		if err := m.node.WaitReady(ctx); err != nil {
			return -1, err
		}
	}
	return idx, nil
}

func (c *rkCluster) apply(ctx context.Context, i int, cmd []byte) error {
	_, err := c.nodes[i].node.Apply(ctx, cmd)
	return err
}

func (c *rkCluster) read(ctx context.Context, i int, level readLevel, key string) error {
	m := c.nodes[i]
	var lvl consistency.Level
	switch level {
	case readStrong:
		lvl = consistency.Strong
	case readLease:
		lvl = consistency.Lease
	default:
		lvl = consistency.Stale
	}
	return m.node.Read(ctx, lvl, func() error {
		if _, ok := m.mem.Get(key); !ok {
			return errMissingKey
		}
		return nil
	})
}
