// Package testhooks is the seam through which raftkit's own tests reach
// inside a node: to wrap its stores with fault-injecting ones and to crash
// it (stop it without the final applied-index record, as a killed process
// would). Production code never registers anything here, so every lookup
// finds nothing and the node runs unchanged. The package is internal: no
// application can use it.
package testhooks

import (
	"errors"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/clock"
)

// Hooks are the wrappers a test installs for one node, identified by its
// Dir (unique per test node).
type Hooks struct {
	// WrapLogStore, when set, wraps the node's raft log store.
	WrapLogStore func(raft.LogStore) raft.LogStore
	// WrapStableStore, when set, wraps the node's raft stable store.
	WrapStableStore func(raft.StableStore) raft.StableStore
	// Clock, when set, replaces the node's own clock: the one its lease,
	// readiness tracker and persistence throttle read (not raft's timers,
	// nor the time a follower measures its promises on). Fault tests give
	// it a clock running at another rate to model clock-rate drift.
	Clock clock.Clock
}

var (
	mu    sync.Mutex
	hooks = map[string]Hooks{}
	crash func(node any) error
)

// Set installs h for the node whose Config.Dir is dir, until Clear.
func Set(dir string, h Hooks) {
	mu.Lock()
	defer mu.Unlock()
	hooks[dir] = h
}

// Clear removes the hooks for dir.
func Clear(dir string) {
	mu.Lock()
	defer mu.Unlock()
	delete(hooks, dir)
}

// For returns the hooks for dir; the zero Hooks when none are set.
func For(dir string) Hooks {
	mu.Lock()
	defer mu.Unlock()
	return hooks[dir]
}

// RegisterCrash is called once by package raftsync with the function that
// crashes a *raftsync.Node.
func RegisterCrash(f func(node any) error) {
	mu.Lock()
	defer mu.Unlock()
	crash = f
}

// Crash stops node (a *raftsync.Node) like a killed process: raft and the
// listener stop, file locks are released, and the final applied-index
// record is not written.
func Crash(node any) error {
	mu.Lock()
	f := crash
	mu.Unlock()
	if f == nil {
		return errors.New("testhooks: raftsync is not linked in")
	}
	return f(node)
}
