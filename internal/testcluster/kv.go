package testcluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"sort"
	"sync"

	"github.com/hashicorp/raft"
)

// Set encodes a command that sets key to value.
func Set(key, value string) []byte { return []byte("set\x00" + key + "\x00" + value) }

// Delete encodes a command that deletes key.
func Delete(key string) []byte { return []byte("del\x00" + key) }

// ErrBadCommand is what KV returns (as its Apply response) for a command
// it cannot parse.
var ErrBadCommand = errors.New("kv: bad command")

// KV is an in-memory key-value FSM. Apply responds with the previous value
// of the key as a string, or an error for a malformed command.
type KV struct {
	mu       sync.RWMutex
	data     map[string]string
	applied  uint64 // entries applied (not restores)
	lastIdx  uint64
	doubles  []uint64 // indexes that arrived at or below one already applied
	restores int
}

// NewKV returns an empty KV.
func NewKV() *KV { return &KV{data: map[string]string{}} }

// Apply is part of raft.FSM.
func (k *KV) Apply(l *raft.Log) interface{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	if l.Index <= k.lastIdx {
		k.doubles = append(k.doubles, l.Index)
	}
	k.lastIdx = l.Index
	k.applied++
	parts := bytes.SplitN(l.Data, []byte{0}, 3)
	switch {
	case len(parts) == 3 && string(parts[0]) == "set":
		prev := k.data[string(parts[1])]
		k.data[string(parts[1])] = string(parts[2])
		return prev
	case len(parts) == 2 && string(parts[0]) == "del":
		prev := k.data[string(parts[1])]
		delete(k.data, string(parts[1]))
		return prev
	default:
		return fmt.Errorf("%w: %q", ErrBadCommand, l.Data)
	}
}

// Snapshot is part of raft.FSM.
func (k *KV) Snapshot() (raft.FSMSnapshot, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return &kvSnapshot{data: maps.Clone(k.data), last: k.lastIdx}, nil
}

// Restore is part of raft.FSM. It reads the whole stream before replacing
// the state.
func (k *KV) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var s kvSnapshotData
	if err := json.NewDecoder(rc).Decode(&s); err != nil {
		return fmt.Errorf("kv: decoding snapshot: %w", err)
	}
	if s.Data == nil {
		s.Data = map[string]string{}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.data = s.Data
	k.lastIdx = s.Last
	k.restores++
	return nil
}

// KVStore returns k. FSM types that embed a *KV inherit it, so test
// helpers find the KV inside them.
func (k *KV) KVStore() *KV { return k }

// Get returns the value of key.
func (k *KV) Get(key string) (string, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	v, ok := k.data[key]
	return v, ok
}

// Data returns a copy of the whole map.
func (k *KV) Data() map[string]string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return maps.Clone(k.data)
}

// Len returns the number of keys.
func (k *KV) Len() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.data)
}

// Applied returns how many entries Apply has processed.
func (k *KV) Applied() uint64 {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.applied
}

// Restores returns how many snapshots were restored.
func (k *KV) Restores() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.restores
}

// DoubleApplied returns the indexes that were applied although an equal or
// higher index had been applied before: an FSM wrapper that replays what
// the FSM holds would show up here.
func (k *KV) DoubleApplied() []uint64 {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return append([]uint64(nil), k.doubles...)
}

// Fingerprint is a stable digest of the data for comparing nodes.
func (k *KV) Fingerprint() string {
	d := k.Data()
	keys := make([]string, 0, len(d))
	for key := range d {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, key := range keys {
		fmt.Fprintf(&b, "%q=%q;", key, d[key])
	}
	return b.String()
}

type kvSnapshotData struct {
	Data map[string]string `json:"data"`
	Last uint64            `json:"last"`
}

type kvSnapshot struct {
	data map[string]string
	last uint64
}

func (s *kvSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(kvSnapshotData{Data: s.data, Last: s.last}); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *kvSnapshot) Release() {}
