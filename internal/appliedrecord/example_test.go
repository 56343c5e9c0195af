package appliedrecord_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/raftkit/raftkit/internal/appliedrecord"
)

// The applied-index record survives restarts and refuses to be trusted by
// another node.
func ExampleFile() {
	dir, err := os.MkdirTemp("", "appliedrecord-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	f := appliedrecord.OpenFile(filepath.Join(dir, "applied-index"))
	if _, err := f.Load(); errors.Is(err, appliedrecord.ErrNoRecord) {
		fmt.Println("first start: persisted index = 0")
	}
	if err := f.Store(appliedrecord.Record{NodeID: "gw-1", ClusterID: "prod", Index: 4500, Term: 3}); err != nil {
		panic(err)
	}
	r, err := f.Load()
	fmt.Println("persisted index =", r.Index, err)
	fmt.Println(r.Check("gw-2", "prod"))
	// Output:
	// first start: persisted index = 0
	// persisted index = 4500 <nil>
	// appliedrecord: applied-index record belongs to another node or cluster: node ID is "gw-1" in the record, "gw-2" expected
}
