// Package testcluster runs real raftkit clusters inside one test process:
// every node has its own Dir (bolt files on disk) and listens on loopback
// TCP, exactly as in production, with raft timeouts shortened so that
// elections take well under a second instead of several.
//
// It also provides KV, a small key-value FSM that records how it was used
// (entries applied, restores) and detects an entry applied twice, which is
// what the tests of recovery and skipping assert on.
//
// The package is imported only by tests.
package testcluster
