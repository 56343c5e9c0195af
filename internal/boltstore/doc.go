// Package boltstore keeps raft's log and stable state in one bbolt file,
// in the on-disk format of github.com/hashicorp/raft-boltdb/v2: the same
// buckets ("logs", "conf"), the same keys (big-endian uint64 indexes) and
// the same bytes for every entry (msgpack, time.Time in the pre-1.1.5
// form raft-boltdb writes by default). A file written by either opens in
// the other.
//
// It differs from raft-boltdb in cost only. raft-boltdb builds a new
// msgpack handle, and with it the handle's per-type codec tables, for
// every entry it encodes or decodes; this package shares one handle
// (msgpack handles are safe for concurrent use once configured) and
// writes every entry of a StoreLogs call into one reused buffer. It
// emits no go-metrics samples: raftkit reports its own metrics.
//
// Every value GetLog returns is a copy that outlives the transaction it
// was read in; nothing a caller holds points into bbolt's memory map.
package boltstore
