package raftsync

import (
	"errors"
	"sync"

	"github.com/hashicorp/raft"
)

// errStoreSealed is what a sealed stableGuard answers reads with.
var errStoreSealed = errors.New("raftsync: stable store closed with the node")

// stableGuard is the stable store raft sees. The node seals it after
// raft.Shutdown has returned and before it closes bolt.
//
// It exists because of raft's heartbeat fast path: the transport calls
// processHeartbeat on its own connection goroutine, and a heartbeat that
// passed raft's shutdown check just before Shutdown can still persist a
// newer term after Shutdown has returned. raft.NetworkTransport.Close
// does not wait for those goroutines, so the write can reach bolt after
// it was closed, and raft panics on any stable-store error ("failed to
// save current term: database not open"): Close took the whole process
// down (ROBUSTNESS.md finding 10). Sealing waits for every call in flight
// and then drops writes, with no error, and fails reads. A dropped write
// is one from a raft that was already shut down: the only one there is
// raft's term bump on a heartbeat, which carries no entries and no vote,
// so losing it is the same as the heartbeat arriving after the crash.
type stableGuard struct {
	raft.StableStore

	mu     sync.RWMutex
	sealed bool
}

func (g *stableGuard) Set(key, val []byte) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.sealed {
		return nil
	}
	return g.StableStore.Set(key, val)
}

func (g *stableGuard) SetUint64(key []byte, val uint64) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.sealed {
		return nil
	}
	return g.StableStore.SetUint64(key, val)
}

func (g *stableGuard) Get(key []byte) ([]byte, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.sealed {
		return nil, errStoreSealed
	}
	return g.StableStore.Get(key)
}

func (g *stableGuard) GetUint64(key []byte) (uint64, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.sealed {
		return 0, errStoreSealed
	}
	return g.StableStore.GetUint64(key)
}

// seal waits for the calls in flight and makes every later one leave the
// inner store alone.
func (g *stableGuard) seal() {
	g.mu.Lock()
	g.sealed = true
	g.mu.Unlock()
}
