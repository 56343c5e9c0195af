package walstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/walstore"
)

// nopFSM is an application that keeps nothing.
type nopFSM struct{}

func (nopFSM) Apply(*raft.Log) any                 { return nil }
func (nopFSM) Snapshot() (raft.FSMSnapshot, error) { return nopSnapshot{}, nil }
func (nopFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

type nopSnapshot struct{}

func (nopSnapshot) Persist(s raft.SnapshotSink) error { return s.Close() }
func (nopSnapshot) Release()                          {}

// A node whose raft log is kept by raft-wal. The Dir remembers it: opened
// again without the factory, it is refused.
func Example() {
	dir, err := os.MkdirTemp("", "walstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	cfg := raftsync.Config{
		ID: "n1", Dir: dir, Addr: "127.0.0.1:0", Bootstrap: true,
		LogStore: walstore.Factory{},
		Logger:   hclog.NewNullLogger(),
	}
	node, err := raftsync.Open(ctx, cfg, nopFSM{})
	if err != nil {
		log.Fatal(err)
	}
	if err := node.Close(); err != nil {
		log.Fatal(err)
	}

	cfg.LogStore = nil // the default, bolt
	_, err = raftsync.Open(ctx, cfg, nopFSM{})
	var ce *raftsync.ConfigError
	fmt.Println(errors.As(err, &ce), ce.Field)
	// Output: true LogStore
}
