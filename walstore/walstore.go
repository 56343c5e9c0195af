package walstore

import (
	"errors"
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// Store is a raft-wal WAL: a raft.LogStore that is also a
// raft.MonotonicLogStore (it accepts no gaps, so raft clears it when it
// installs a snapshot). Close it once raft has stopped using it; Close is
// idempotent.
type Store struct {
	*raftwal.WAL
}

// Open creates dir (mode 0700) if it does not exist and opens the WAL in
// it: a new, empty log in an empty directory, otherwise the log found
// there after raft-wal's recovery of the tail segment. logger receives
// raft-wal's output. On error nothing stays open.
func Open(dir string, logger hclog.Logger) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("walstore: creating %s: %w", dir, err)
	}
	meta := &metadb.BoltMetaDB{}
	w, err := raftwal.Open(dir, raftwal.WithMetaStore(meta), raftwal.WithLogger(logger))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("walstore: opening %s: %w", dir, err), meta.Close())
	}
	return &Store{WAL: w}, nil
}

// Name is the name Factory records in a Dir, and the directory under the
// Dir where the log lives.
const Name = "wal"

// Factory is the raftsync.LogStoreFactory of the WAL: set
// raftsync.Config.LogStore to Factory{}.
type Factory struct{}

// Name returns Name ("wal").
func (Factory) Name() string { return Name }

// Open opens the WAL in dir, as the package-level Open does. The node
// closes it after raft has stopped.
func (Factory) Open(dir string, logger hclog.Logger) (raft.LogStore, error) {
	s, err := Open(dir, logger)
	if err != nil {
		return nil, err
	}
	return s, nil
}
