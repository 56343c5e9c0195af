package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"sync"

	"github.com/hashicorp/raft"
)

// command is one change to the configuration table.
type command struct {
	Op    string `json:"op"` // "set" or "delete"
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// configFSM is the application's state machine: a table of configuration
// entries. raftkit never looks inside the commands; it only replicates them
// and tells this FSM when to apply them.
type configFSM struct {
	mu   sync.RWMutex
	data map[string]string
}

func newConfigFSM() *configFSM { return &configFSM{data: map[string]string{}} }

func (f *configFSM) Apply(l *raft.Log) interface{} {
	var c command
	if err := json.Unmarshal(l.Data, &c); err != nil {
		return fmt.Errorf("bad command: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch c.Op {
	case "set":
		f.data[c.Key] = c.Value
	case "delete":
		delete(f.data, c.Key)
	default:
		return fmt.Errorf("unknown op %q", c.Op)
	}
	return nil
}

func (f *configFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return snapshotOf(maps.Clone(f.data)), nil
}

func (f *configFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data := map[string]string{}
	if err := json.NewDecoder(rc).Decode(&data); err != nil {
		return err
	}
	f.mu.Lock()
	f.data = data
	f.mu.Unlock()
	return nil
}

func (f *configFSM) Get(key string) (string, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	v, ok := f.data[key]
	return v, ok
}

type snapshotOf map[string]string

func (s snapshotOf) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(map[string]string(s)); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s snapshotOf) Release() {}

func set(key, value string) []byte {
	b, _ := json.Marshal(command{Op: "set", Key: key, Value: value})
	return b
}
