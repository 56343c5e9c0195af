package faultnet

import (
	"fmt"
	"time"
)

// Cut severs the link between members a and b, both ways: dials between
// them are refused and their open connections are closed. It returns an
// error wrapping ErrInvalid, and changes nothing, when a or b is empty or
// a == b.
func (n *Network) Cut(a, b string) error {
	if err := checkPair(a, b); err != nil {
		return err
	}
	n.mu.Lock()
	n.cut[pair(a, b)] = true
	doomed := n.connsLocked(func(from, to string) bool { return pair(from, to) == pair(a, b) })
	n.mu.Unlock()
	n.killAll(doomed)
	return nil
}

// Uncut restores the link between a and b that Cut severed. Other faults on
// the link stay. Errors as Cut.
func (n *Network) Uncut(a, b string) error {
	if err := checkPair(a, b); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.cut, pair(a, b))
	return nil
}

// Isolate cuts every link between name and the members in others (name
// itself, if listed, is skipped). It returns the first invalid argument's
// error; links before it are cut.
func (n *Network) Isolate(name string, others ...string) error {
	for _, o := range others {
		if o == name {
			continue
		}
		if err := n.Cut(name, o); err != nil {
			return err
		}
	}
	return nil
}

// Block stops from from opening connections to to, and closes the
// connections from had opened to to. Connections opened by to are left
// alone, in both directions (a stateful firewall rule). Errors as Cut.
func (n *Network) Block(from, to string) error {
	if err := checkPair(from, to); err != nil {
		return err
	}
	n.mu.Lock()
	n.blocked[link{from, to}] = true
	doomed := n.connsLocked(func(f, t string) bool { return f == from && t == to })
	n.mu.Unlock()
	n.killAll(doomed)
	return nil
}

// Unblock lifts a Block. Errors as Cut.
func (n *Network) Unblock(from, to string) error {
	if err := checkPair(from, to); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.blocked, link{from, to})
	return nil
}

// Stall holds every byte flowing from from to to, on every connection
// between them whoever opened it, until Unstall; bytes the other way
// flow. Held bytes are delivered in order afterwards. Errors as Cut.
func (n *Network) Stall(from, to string) error {
	if err := checkPair(from, to); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stalled[link{from, to}] = true
	n.notifyLocked()
	return nil
}

// Unstall releases a Stall. Errors as Cut.
func (n *Network) Unstall(from, to string) error {
	if err := checkPair(from, to); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.stalled, link{from, to})
	n.notifyLocked()
	return nil
}

// SetDelay makes every chunk written from from to to wait d plus a
// uniformly drawn share of jitter before delivery. Zero d and jitter
// remove the delay. Chunks already in flight keep the delay they were
// given. It returns an error wrapping ErrInvalid, and changes nothing, for
// bad names or a negative duration.
func (n *Network) SetDelay(from, to string, d, jitter time.Duration) error {
	if err := checkPair(from, to); err != nil {
		return err
	}
	if d < 0 || jitter < 0 {
		return fmt.Errorf("%w: negative delay %v or jitter %v", ErrInvalid, d, jitter)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if d == 0 && jitter == 0 {
		delete(n.delays, link{from, to})
	} else {
		n.delays[link{from, to}] = delay{base: d, jitter: jitter}
	}
	n.notifyLocked()
	return nil
}

// SetResetRate makes each chunk written from from to to, with probability
// p, end its connection: a prefix of the chunk is delivered and the
// connection is closed. p = 0 turns it off. It returns an error wrapping
// ErrInvalid, and changes nothing, for bad names or p outside [0, 1].
func (n *Network) SetResetRate(from, to string, p float64) error {
	if err := checkPair(from, to); err != nil {
		return err
	}
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("%w: reset probability %v outside [0, 1]", ErrInvalid, p)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if p == 0 {
		delete(n.resets, link{from, to})
	} else {
		n.resets[link{from, to}] = p
	}
	return nil
}

// Reset closes every open connection between a and b, whoever opened it,
// and returns how many it closed. New connections are allowed at once.
// Errors as Cut.
func (n *Network) Reset(a, b string) (int, error) {
	if err := checkPair(a, b); err != nil {
		return 0, err
	}
	n.mu.Lock()
	doomed := n.connsLocked(func(from, to string) bool { return pair(from, to) == pair(a, b) })
	n.mu.Unlock()
	n.killAll(doomed)
	return len(doomed), nil
}

// Heal lifts every fault: cuts, blocks, stalls (matching ones too),
// delays, reset rates and pauses. Held bytes are delivered; connections that were closed stay
// closed.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut = map[[2]string]bool{}
	n.blocked = map[link]bool{}
	n.stalled = map[link]bool{}
	n.delays = map[link]delay{}
	n.resets = map[link]float64{}
	n.paused = map[string]bool{}
	for l := range n.matchers {
		n.unstallMatchingLocked(l)
	}
	n.notifyLocked()
}

// connsLocked returns the open connections whose (dialler, target) names
// match. Names are resolved now: a member that dialled before it
// registered (a joiner, during its own Open) is known by now.
func (n *Network) connsLocked(match func(from, to string) bool) []*conn {
	var out []*conn
	for c := range n.conns {
		if match(c.from, n.names[c.toAddr]) {
			out = append(out, c)
		}
	}
	return out
}

func (n *Network) killAll(cs []*conn) {
	for _, c := range cs {
		if c.kill() {
			n.mu.Lock()
			n.stats.ConnsClosed++
			n.mu.Unlock()
		}
	}
}

func checkPair(a, b string) error {
	switch {
	case a == "" || b == "":
		return fmt.Errorf("%w: empty member name (%q, %q)", ErrInvalid, a, b)
	case a == b:
		return fmt.Errorf("%w: link from %q to itself", ErrInvalid, a)
	}
	return nil
}

// CutOffTo reports whether a fault in force now keeps some other member's
// bytes from reaching member to: a cut or a one-way block towards it, a
// stall towards it, or a paused member (it or another). Delays, resets and
// matched stalls slow or break connections without keeping bytes out for
// good, and do not count.
func (n *Network) CutOffTo(to string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for p := range n.cut {
		if p[0] == to || p[1] == to {
			return true
		}
	}
	for l := range n.blocked {
		if l.to == to {
			return true
		}
	}
	for l := range n.stalled {
		if l.to == to {
			return true
		}
	}
	for _, p := range n.paused {
		if p {
			return true
		}
	}
	return false
}
