package raftsync

import "github.com/raftkit/raftkit/internal/testhooks"

func init() {
	testhooks.RegisterCrash(func(node any) error {
		n, ok := node.(*Node)
		if !ok {
			return nil
		}
		return n.crash()
	})
}

// crash stops the node the way a killed process would leave its Dir: raft
// and the listener stop, but the final applied-index record that Close
// writes is skipped, so P stays at its last throttled write. Only tests
// reach it, through internal/testhooks.
func (n *Node) crash() error {
	n.closeOnce.Do(func() {
		n.closed.Store(true)
		if n.persist != nil {
			n.persist.crashed.Store(true)
		}
		n.closeErr = n.shutdown()
	})
	return n.closeErr
}
