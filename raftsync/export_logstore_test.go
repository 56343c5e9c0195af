package raftsync

import (
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DropLogStoreRecord deletes the log store kind recorded in dir's raft.db
// (raft-boltdb keeps stable keys in its "conf" bucket), leaving a Dir this
// version did not write. dir must not be open.
func DropLogStoreRecord(dir string) error {
	db, err := bolt.Open(filepath.Join(dir, raftDBFileName), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("conf")).Delete(stableKeyLogStore) })
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}
