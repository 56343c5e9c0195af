package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// The command format shared by every in-process system: "set" NUL key NUL
// value. setCommand pads the value so that the whole command has size
// bytes, the 100-byte commands.
func setCommand(key string, size int) []byte {
	cmd := make([]byte, 0, max(size, len(key)+5))
	cmd = append(cmd, "set\x00"...)
	cmd = append(cmd, key...)
	cmd = append(cmd, 0)
	for len(cmd) < size {
		cmd = append(cmd, 'x')
	}
	return cmd
}

// errBadCommand is the FSM's answer to a command it cannot parse.
var errBadCommand = errors.New("bench kv: bad command")

// parseSet splits a set command into key and value.
func parseSet(cmd []byte) (key, value []byte, err error) {
	rest, ok := bytes.CutPrefix(cmd, []byte("set\x00"))
	if !ok {
		return nil, nil, fmt.Errorf("%w: %.20q", errBadCommand, cmd)
	}
	key, value, ok = bytes.Cut(rest, []byte{0})
	if !ok {
		return nil, nil, fmt.Errorf("%w: no value in %.20q", errBadCommand, cmd)
	}
	return key, value, nil
}

// memKV is the small in-memory key-value FSM every in-process system
// runs: the same code under raftkit and under bare raft. It records the
// highest index it has applied, which is how the bare-raft peer knows it
// caught up (raft's own AppliedIndex counts entries sent to the FSM, not
// finished).
type memKV struct {
	mu   sync.RWMutex
	data map[string][]byte
	last atomic.Uint64
}

func newMemKV() *memKV { return &memKV{data: map[string][]byte{}} }

// Apply is part of raft.FSM.
func (k *memKV) Apply(l *raft.Log) interface{} {
	key, value, err := parseSet(l.Data)
	if err != nil {
		k.last.Store(l.Index)
		return err
	}
	k.mu.Lock()
	k.data[string(key)] = bytes.Clone(value)
	k.mu.Unlock()
	k.last.Store(l.Index)
	return nil
}

// Get returns the value of key.
func (k *memKV) Get(key string) ([]byte, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	v, ok := k.data[key]
	return v, ok
}

// Last returns the highest log index applied (or restored).
func (k *memKV) Last() uint64 { return k.last.Load() }

// Len returns the number of keys.
func (k *memKV) Len() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.data)
}

type kvImage struct {
	Last uint64            `json:"last"`
	Data map[string][]byte `json:"data"`
}

// Snapshot is part of raft.FSM.
func (k *memKV) Snapshot() (raft.FSMSnapshot, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return &kvSnapshot{img: kvImage{Last: k.last.Load(), Data: maps.Clone(k.data)}}, nil
}

// Restore is part of raft.FSM.
func (k *memKV) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var img kvImage
	if err := json.NewDecoder(rc).Decode(&img); err != nil {
		return fmt.Errorf("bench kv: decoding snapshot: %w", err)
	}
	if img.Data == nil {
		img.Data = map[string][]byte{}
	}
	k.mu.Lock()
	k.data = img.Data
	k.mu.Unlock()
	k.last.Store(img.Last)
	return nil
}

type kvSnapshot struct{ img kvImage }

func (s *kvSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(s.img); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *kvSnapshot) Release() {}

// u64 encodes an index for bolt keys and values.
func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}
