// Package faultnet is a fault-injecting network for in-process test
// clusters. Every member dials through the Network (raftsync.Config's
// DialContext), which knows who dials whom, so it can cut the link between
// two members: it refuses new connections between them and closes the ones
// that exist, in both directions. Connections accepted by a member were
// dialled by another member through the same Network, so cutting dialled
// connections is enough to partition a cluster.
package faultnet

import (
	"context"
	"fmt"
	"net"
	"sync"
)

// ErrCut is returned when dialling across a cut link.
var ErrCut = fmt.Errorf("faultnet: link cut")

// Network tracks members' addresses, cut links and open connections. It is
// safe for concurrent use.
type Network struct {
	mu    sync.Mutex
	names map[string]string  // address → member name
	cut   map[[2]string]bool // unordered pair, smaller name first
	conns map[*conn]struct{}
}

// New returns a Network with every link up.
func New() *Network {
	return &Network{names: map[string]string{}, cut: map[[2]string]bool{}, conns: map[*conn]struct{}{}}
}

// Register names the member listening at addr.
func (n *Network) Register(name, addr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.names[addr] = name
}

// Dialer returns the DialContext for member from.
func (n *Network) Dialer(from string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		n.mu.Lock()
		to := n.names[addr]
		blocked := n.cut[pair(from, to)]
		n.mu.Unlock()
		if blocked {
			return nil, fmt.Errorf("%w: %s -> %s", ErrCut, from, to)
		}
		var d net.Dialer
		raw, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c := &conn{Conn: raw, net: n, from: from, toAddr: addr}
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.cut[pair(from, to)] { // cut while dialling
			raw.Close()
			return nil, fmt.Errorf("%w: %s -> %s", ErrCut, from, to)
		}
		n.conns[c] = struct{}{}
		return c, nil
	}
}

// Cut severs the link between members a and b, both ways.
func (n *Network) Cut(a, b string) {
	n.mu.Lock()
	n.cut[pair(a, b)] = true
	var doomed []*conn
	for c := range n.conns {
		// Resolve the name now: a member dialled before it registered
		// (a joiner, during its own Open) is known by now.
		if pair(c.from, n.names[c.toAddr]) == pair(a, b) {
			doomed = append(doomed, c)
		}
	}
	n.mu.Unlock()
	for _, c := range doomed {
		c.Close()
	}
}

// Isolate cuts every link between name and the members in others.
func (n *Network) Isolate(name string, others ...string) {
	for _, o := range others {
		if o != name {
			n.Cut(name, o)
		}
	}
}

// Heal restores every link.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut = map[[2]string]bool{}
}

func pair(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

type conn struct {
	net.Conn
	net    *Network
	from   string
	toAddr string
	once   sync.Once
}

func (c *conn) Close() error {
	c.once.Do(func() {
		c.net.mu.Lock()
		delete(c.net.conns, c)
		c.net.mu.Unlock()
	})
	return c.Conn.Close()
}

// Debug describes the network's state.
func (n *Network) Debug() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := fmt.Sprintf("names=%v cut=%v conns:", n.names, n.cut)
	for c := range n.conns {
		s += fmt.Sprintf(" %s->%s", c.from, n.names[c.toAddr])
	}
	return s
}
