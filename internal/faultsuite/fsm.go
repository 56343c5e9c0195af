package faultsuite

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/raft"
)

// Entry is one write as the FSM applied it.
type Entry struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// WriteCommand encodes a write of value to key for the FSM.
func WriteCommand(key, value string) []byte {
	return []byte("w\x00" + key + "\x00" + value)
}

func parseCommand(b []byte) (Entry, bool) {
	parts := bytes.SplitN(b, []byte{0}, 3)
	if len(parts) != 3 || string(parts[0]) != "w" {
		return Entry{}, false
	}
	return Entry{Key: string(parts[1]), Value: string(parts[2])}, true
}

// FSM is the replicated state the workload drives: a register per key, and
// the whole history of applied writes by log index, which snapshots carry
// too. The history is what the checkers compare across nodes: every
// acknowledged write must sit at its index on every node, and no write may
// appear twice.
//
// It is safe for concurrent use: raft applies while clients read.
type FSM struct {
	mu      sync.RWMutex
	values  map[string]string
	log     map[uint64]Entry
	last    uint64
	doubles []uint64 // indexes applied at or below one already applied
	bad     []uint64 // indexes whose command did not parse
}

// NewFSM returns an empty FSM.
func NewFSM() *FSM { return &FSM{values: map[string]string{}, log: map[uint64]Entry{}} }

// Apply is part of raft.FSM. It returns nil.
func (f *FSM) Apply(l *raft.Log) interface{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l.Index <= f.last {
		f.doubles = append(f.doubles, l.Index)
	}
	f.last = max(f.last, l.Index)
	e, ok := parseCommand(l.Data)
	if !ok {
		f.bad = append(f.bad, l.Index)
		return nil
	}
	f.values[e.Key] = e.Value
	f.log[l.Index] = e
	return nil
}

// Read returns key's value ("" when never written) and the index of the
// last entry applied, read together under one lock.
func (f *FSM) Read(key string) (string, uint64) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.values[key], f.last
}

// Last returns the index of the last entry applied.
func (f *FSM) Last() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.last
}

// At returns the write applied at index, if any.
func (f *FSM) At(index uint64) (Entry, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	e, ok := f.log[index]
	return e, ok
}

// Log returns a copy of the applied writes by index.
func (f *FSM) Log() map[uint64]Entry {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return maps.Clone(f.log)
}

// Values returns a copy of the registers.
func (f *FSM) Values() map[string]string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return maps.Clone(f.values)
}

// Anomalies describes entries applied twice or not understood; "" when
// there are none.
func (f *FSM) Anomalies() string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var parts []string
	if len(f.doubles) > 0 {
		parts = append(parts, fmt.Sprintf("indexes applied again at or below the last applied: %v", f.doubles))
	}
	if len(f.bad) > 0 {
		parts = append(parts, fmt.Sprintf("unparseable commands at %v", f.bad))
	}
	return strings.Join(parts, "; ")
}

// Digest is a stable rendering of the registers and the applied history,
// equal on two FSMs exactly when both are equal.
func (f *FSM) Digest() string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var b strings.Builder
	keys := make([]string, 0, len(f.values))
	for k := range f.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%q=%q;", k, f.values[k])
	}
	idx := make([]uint64, 0, len(f.log))
	for i := range f.log {
		idx = append(idx, i)
	}
	sort.Slice(idx, func(i, j int) bool { return idx[i] < idx[j] })
	for _, i := range idx {
		fmt.Fprintf(&b, "|%d:%q=%q", i, f.log[i].Key, f.log[i].Value)
	}
	return b.String()
}

type fsmState struct {
	Values map[string]string `json:"values"`
	Log    map[uint64]Entry  `json:"log"`
	Last   uint64            `json:"last"`
}

// Snapshot is part of raft.FSM.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return &fsmSnapshot{state: fsmState{Values: maps.Clone(f.values), Log: maps.Clone(f.log), Last: f.last}}, nil
}

// Restore is part of raft.FSM. It decodes the whole snapshot before
// replacing anything, and changes nothing on error.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var s fsmState
	if err := json.NewDecoder(rc).Decode(&s); err != nil {
		return fmt.Errorf("faultsuite: decoding snapshot: %w", err)
	}
	if s.Values == nil {
		s.Values = map[string]string{}
	}
	if s.Log == nil {
		s.Log = map[uint64]Entry{}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.values, f.log, f.last = s.Values, s.Log, s.Last
	return nil
}

type fsmSnapshot struct{ state fsmState }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(s.state); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}
