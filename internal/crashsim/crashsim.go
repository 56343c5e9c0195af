package crashsim

import (
	"errors"
	"sync/atomic"

	"github.com/raftkit/raftkit/raftsync"
)

// Switch crashes the nodes opened with a Config it was installed in. The
// zero value is ready to use; it is safe for concurrent use.
type Switch struct {
	// crashed belongs to the node opened last: each Open gets a new one,
	// so a Dir re-opened after a crash records its applied index again.
	crashed atomic.Pointer[atomic.Bool]
}

// Install makes the nodes opened with cfg crashable through s: it chains
// s's wrapper of the applied-index store after cfg.WrapStores.
func (s *Switch) Install(cfg *raftsync.Config) {
	prev := cfg.WrapStores
	cfg.WrapStores = func(st raftsync.Stores) raftsync.Stores {
		if prev != nil {
			st = prev(st)
		}
		crashed := new(atomic.Bool)
		s.crashed.Store(crashed)
		st.Applied = &applied{inner: st.Applied, crashed: crashed}
		return st
	}
}

// Crash stops node, the node opened last with s installed, like a killed
// process: no applied-index record is written from now on, then the node
// closes. It returns Close's error.
func (s *Switch) Crash(node *raftsync.Node) error {
	crashed := s.crashed.Load()
	if crashed == nil {
		return errors.New("crashsim: no node was opened with this Switch installed")
	}
	crashed.Store(true)
	return node.Close()
}

// applied drops every Store once its node crashed.
type applied struct {
	inner   raftsync.AppliedIndexStore
	crashed *atomic.Bool
}

func (a *applied) Load() ([]byte, error) { return a.inner.Load() }

func (a *applied) Store(b []byte) error {
	if a.crashed.Load() {
		return nil // the process is gone: nothing reaches the disk
	}
	return a.inner.Store(b)
}
