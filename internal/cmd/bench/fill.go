package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"
)

// fillKeys is the key space of the entries appended for the restart
// scenario: configuration-sized state however long the log.
const fillKeys = 10000

// appendEntries appends n command entries to the raft log in
// dir/raft.db, right after its last entry and in its term, in batches,
// while the node is down. It is the fast way to give a stopped cluster a
// long log: the entries are what raft itself would have written for n
// Apply calls whose replication reached every member just before all of
// them stopped, so the next start commits them (the new leader's first
// entry does) and applies them. It returns the new last index.
func appendEntries(dir string, n int) (uint64, error) {
	s, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db"), BoltOptions: &bolt.Options{Timeout: time.Second}})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	last, err := s.LastIndex()
	if err != nil {
		return 0, err
	}
	var tail raft.Log
	if err := s.GetLog(last, &tail); err != nil {
		return 0, fmt.Errorf("bench: reading the last entry (%d) of %s: %w", last, dir, err)
	}
	const batch = 20000
	now := time.Now()
	for done := 0; done < n; {
		k := min(batch, n-done)
		logs := make([]*raft.Log, k)
		for i := range logs {
			idx := last + uint64(done+i) + 1
			logs[i] = &raft.Log{
				Index:      idx,
				Term:       tail.Term,
				Type:       raft.LogCommand,
				Data:       setCommand(fmt.Sprintf("k%05d", idx%fillKeys), commandSize),
				AppendedAt: now,
			}
		}
		if err := s.StoreLogs(logs); err != nil {
			return 0, fmt.Errorf("bench: appending to %s: %w", dir, err)
		}
		done += k
	}
	return last + uint64(n), nil
}

// logSpan returns the first and last index of the log in dir/raft.db,
// for a stopped node.
func logSpan(dir string) (first, last uint64, err error) {
	s, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db"), BoltOptions: &bolt.Options{Timeout: time.Second}})
	if err != nil {
		return 0, 0, err
	}
	defer s.Close()
	if first, err = s.FirstIndex(); err != nil {
		return 0, 0, err
	}
	last, err = s.LastIndex()
	return first, last, err
}
