package faultnet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sort"
	"strings"
	"sync"
	"time"
)

// Errors returned by the Network. Dial errors wrap ErrCut or ErrBlocked;
// invalid arguments wrap ErrInvalid and change nothing.
var (
	// ErrCut is returned when dialling across a cut link.
	ErrCut = errors.New("faultnet: link cut")
	// ErrBlocked is returned when dialling across a one-way block.
	ErrBlocked = errors.New("faultnet: link blocked one way")
	// ErrInvalid is returned for an argument that has no meaning: an empty
	// member name, a link from a member to itself, a negative delay, a
	// probability outside [0, 1].
	ErrInvalid = errors.New("faultnet: invalid argument")
	// ErrClosed is returned by a Dialer after Close.
	ErrClosed = errors.New("faultnet: network closed")
)

// link is a directed pair of member names.
type link struct{ from, to string }

// delay is the latency of one directed link.
type delay struct{ base, jitter time.Duration }

// Network tracks members' addresses, the faults in force and the open
// connections. It is safe for concurrent use.
type Network struct {
	mu      sync.Mutex
	names   map[string]string // address → member name
	cut     map[[2]string]bool
	blocked map[link]bool
	stalled map[link]bool
	delays  map[link]delay
	resets  map[link]float64
	paused  map[string]bool
	// matchers hold a connection's direction from its first chunk they
	// accept (StallMatching).
	matchers map[link]func([]byte) bool
	conns    map[*conn]struct{}
	rng      *rand.Rand
	// changed is closed and replaced whenever a hold or a delay changes,
	// so that relays waiting on one look again.
	changed chan struct{}
	closed  bool
	wg      sync.WaitGroup // relay goroutines
	stats   Stats
}

// Stats counts what the Network did. Fields only grow.
type Stats struct {
	Dials        uint64 // connections opened through the Network
	DialsRefused uint64 // dials refused by a cut or a block
	ConnsClosed  uint64 // connections closed by a fault (cut, block, reset)
	Truncated    uint64 // connections that delivered a chunk's prefix and died (reset rate)
	Delayed      uint64 // chunks delivered later than they were written because of a delay
	Held         uint64 // chunks that waited for a stall or a pause to end
}

// New returns a Network with every link up, seeded with 1.
func New() *Network { return NewSeeded(1) }

// NewSeeded returns a Network with every link up whose random draws
// (jitter, resets) come from a generator seeded with seed.
func NewSeeded(seed int64) *Network {
	return &Network{
		names:    map[string]string{},
		cut:      map[[2]string]bool{},
		blocked:  map[link]bool{},
		stalled:  map[link]bool{},
		delays:   map[link]delay{},
		resets:   map[link]float64{},
		paused:   map[string]bool{},
		matchers: map[link]func([]byte) bool{},
		conns:    map[*conn]struct{}{},
		rng:      rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15)),
		changed:  make(chan struct{}),
	}
}

// Register names the member listening at addr. A member that restarts on
// the same address registers again; the last name given wins.
func (n *Network) Register(name, addr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.names[addr] = name
}

// Dialer returns the DialContext for member from: it refuses dials across
// a cut or a block (the error wraps ErrCut or ErrBlocked) and otherwise
// connects to addr over loopback TCP and returns a connection whose bytes
// pass through the Network's faults. It blocks for the TCP connect only,
// bounded by ctx.
func (n *Network) Dialer(from string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if err := n.dialAllowed(from, addr); err != nil {
			return nil, err
		}
		var d net.Dialer
		raw, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		if err := n.dialAllowedLocked(from, addr); err != nil { // a fault arrived while dialling
			raw.Close()
			return nil, err
		}
		n.stats.Dials++
		return n.startConnLocked(from, addr, raw), nil
	}
}

func (n *Network) dialAllowed(from, addr string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dialAllowedLocked(from, addr)
}

func (n *Network) dialAllowedLocked(from, addr string) error {
	if n.closed {
		return ErrClosed
	}
	to := n.names[addr]
	switch {
	case n.cut[pair(from, to)]:
		n.stats.DialsRefused++
		return fmt.Errorf("%w: %s -> %s", ErrCut, from, to)
	case n.blocked[link{from, to}]:
		n.stats.DialsRefused++
		return fmt.Errorf("%w: %s -> %s", ErrBlocked, from, to)
	}
	return nil
}

// Stats returns the counters so far. It never blocks beyond a short lock.
func (n *Network) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// Close closes every connection, makes later dials fail with ErrClosed and
// waits until every relay goroutine has ended. It is idempotent.
func (n *Network) Close() {
	n.mu.Lock()
	n.closed = true
	doomed := make([]*conn, 0, len(n.conns))
	for c := range n.conns {
		doomed = append(doomed, c)
	}
	n.mu.Unlock()
	for _, c := range doomed {
		c.kill()
	}
	n.wg.Wait()
}

// Debug describes the network's state: members, faults and connections.
func (n *Network) Debug() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "names=%v cut=%v blocked=%v stalled=%v delays=%v resets=%v paused=%v conns:",
		n.names, keys2(n.cut), keysLink(n.blocked), keysLink(n.stalled), n.delays, n.resets, n.paused)
	var cs []string
	for c := range n.conns {
		cs = append(cs, c.from+"->"+n.names[c.toAddr])
	}
	sort.Strings(cs)
	b.WriteString(" " + strings.Join(cs, " "))
	return b.String()
}

// notifyLocked wakes every relay waiting on a hold or a delay.
func (n *Network) notifyLocked() {
	close(n.changed)
	n.changed = make(chan struct{})
}

func pair(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

func keys2(m map[[2]string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k[0]+"<->"+k[1])
	}
	sort.Strings(out)
	return out
}

func keysLink(m map[link]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k.from+"->"+k.to)
	}
	sort.Strings(out)
	return out
}
