package faultnet

import "fmt"

// Pause holds every byte to and from member name, on all its connections
// and on those opened while it is paused, until Resume or Heal. Dials to and
// from it still connect (a stopped process's kernel still completes TCP
// handshakes), but nothing crosses them. Its peers thus see it stop
// answering, and when it resumes they receive what it sent before the
// pause, late, and it receives what they sent meanwhile. It returns an
// error wrapping ErrInvalid for an empty name.
func (n *Network) Pause(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty member name", ErrInvalid)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.paused[name] = true
	n.notifyLocked()
	return nil
}

// Resume ends a Pause: held bytes are delivered in order. Resuming a member
// that is not paused does nothing. It returns an error wrapping ErrInvalid
// for an empty name.
func (n *Network) Resume(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty member name", ErrInvalid)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.paused, name)
	n.notifyLocked()
	return nil
}

// Paused reports whether name is paused.
func (n *Network) Paused(name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.paused[name]
}

// heldLocked reports whether bytes from from to to must wait now.
func (n *Network) heldLocked(from, to string) bool {
	return n.paused[from] || n.paused[to] || n.stalled[link{from, to}]
}
