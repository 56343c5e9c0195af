package raftsync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/raftsync"
)

// flags is a tiny application FSM: a table of feature flags.
type flags struct {
	mu sync.RWMutex
	on map[string]bool
}

func (f *flags) Apply(l *raft.Log) interface{} {
	var c struct {
		Name string
		On   bool
	}
	if err := json.Unmarshal(l.Data, &c); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on[c.Name] = c.On
	return nil
}

func (f *flags) Snapshot() (raft.FSMSnapshot, error) { return nil, fmt.Errorf("not in this example") }
func (f *flags) Restore(rc io.ReadCloser) error      { return rc.Close() }

func (f *flags) enabled(name string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.on[name]
}

// Example starts a single-node cluster, waits until it may serve, writes
// a flag and reads it back linearizably.
func Example() {
	dir, _ := os.MkdirTemp("", "raftsync-example-")
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	fsm := &flags{on: map[string]bool{}}
	node, err := raftsync.Open(ctx, raftsync.Config{
		ID:        "node1",
		Dir:       dir,
		Addr:      "127.0.0.1:0",
		Bootstrap: true,
		Logger:    hclog.NewNullLogger(),
	}, fsm)
	if err != nil {
		fmt.Println("open:", err)
		return
	}
	defer node.Close()

	if err := node.WaitReady(ctx); err != nil {
		fmt.Println("not ready:", err)
		return
	}
	if _, err := node.Apply(ctx, []byte(`{"Name":"dark-mode","On":true}`)); err != nil {
		fmt.Println("apply:", err)
		return
	}
	var on bool
	err = node.Read(ctx, consistency.Strong, func() error {
		on = fsm.enabled("dark-mode")
		return nil
	})
	fmt.Println("dark-mode enabled:", on, err)
	fmt.Println("state:", node.Readiness().State)
	// Output:
	// dark-mode enabled: true <nil>
	// state: ready
}
