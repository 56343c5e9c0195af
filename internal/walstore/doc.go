// Package walstore opens hashicorp/raft-wal as a raft log store, with the
// same wiring for raftsync and for the benchmark's bare-raft peer: the
// directory created with mode 0700, raft-wal's output through the caller's
// logger, and nothing left open when opening fails. (raft-wal v0.4.1's
// Open returns some errors with its meta database still open; that file is
// a bbolt database opened without a lock timeout, so a later Open of the
// same directory in the same process would block for ever.)
package walstore
