// Package walstore keeps a raftsync node's raft log in hashicorp/raft-wal,
// the write-ahead log Consul uses, instead of raftsync's default, raft.db
// (hashicorp/raft-boltdb). Set Config.LogStore to Factory{}:
//
//	cfg := raftsync.Config{ID: "n1", Dir: dir, Addr: addr, LogStore: walstore.Factory{}}
//
// The log then lives in segment files under Dir/wal, with one fsync per
// append instead of bolt's two; raft.db keeps the stable store (term,
// vote, cluster ID). raft-wal's authors still call it experimental, and it
// preallocates 64 MiB segment files. docs/BENCHMARKS.md has the measured
// difference.
//
// The choice is fixed for the life of a Dir: raftsync records it when the
// Dir is first opened and refuses to open a WAL Dir without Factory, or a
// bolt Dir with it (a *raftsync.ConfigError naming LogStore).
//
// The package is separate so that programs using the default store do not
// link raft-wal and its dependencies (among them the archived coreos/etcd).
//
// Open is the same store for a bare hashicorp/raft node: the directory
// created with mode 0700, raft-wal's output through the caller's logger,
// and nothing left open when opening fails. (raft-wal v0.4.1's Open returns
// some errors with its meta database still open; that file is a bbolt
// database opened without a lock timeout, so a later Open of the same
// directory in the same process would block for ever.)
package walstore
