package faultnet

// StallMatching holds, on each connection carrying bytes from from to to,
// every byte of that direction from the first chunk (one read of the
// sender's bytes: usually one write, one message) that match accepts, until
// UnstallMatching; other connections between them, and the other
// direction, flow. It models the loss of one connection's packets, picked
// by what they carry: say, the one raft request a test wants to arrive
// late. Chunks read before the call are not examined. Held bytes are
// delivered in order afterwards. match must not block. Errors as Cut;
// a nil match wraps ErrInvalid.
func (n *Network) StallMatching(from, to string, match func(chunk []byte) bool) error {
	if err := checkPair(from, to); err != nil {
		return err
	}
	if match == nil {
		return ErrInvalid
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.matchers[link{from, to}] = match
	return nil
}

// UnstallMatching ends StallMatching on from -> to and releases what it
// held. Errors as Cut.
func (n *Network) UnstallMatching(from, to string) error {
	if err := checkPair(from, to); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.unstallMatchingLocked(link{from, to})
	return nil
}

func (n *Network) unstallMatchingLocked(l link) {
	delete(n.matchers, l)
	for c := range n.conns {
		for up := range c.matched {
			if from, to := c.endsLocked(up == 0); c.matched[up] && (link{from, to}) == l {
				c.matched[up] = false
			}
		}
	}
	n.notifyLocked()
}
