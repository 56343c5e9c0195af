package snapshot_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/raft"
	"github.com/raftkit/raftkit/snapshot"
)

// Writing a snapshot the way a raft.FSMSnapshot's Persist does (the sink is
// a bytes.Buffer here), then verifying it the way Restore does before the
// application sees a byte.
func Example() {
	var sink bytes.Buffer
	w, err := snapshot.NewWriter(&sink, snapshot.Header{Index: 42, Term: 3, Compression: snapshot.Flate})
	if err != nil {
		panic(err)
	}
	fmt.Fprint(w, `{"routes":{"/api/users":"http://10.0.0.7:8080"}}`)
	if err := w.Close(); err != nil { // writes the trailer; sink stays open
		panic(err)
	}

	h, payload, err := snapshot.Verify(&sink, os.TempDir())
	if err != nil {
		panic(err) // a corrupt snapshot never gets here; the old state stays
	}
	defer payload.Close() // removes the spool file
	state, _ := io.ReadAll(payload)
	fmt.Printf("index %d term %d: %s\n", h.Index, h.Term, state)
	// Output: index 42 term 3: {"routes":{"/api/users":"http://10.0.0.7:8080"}}
}

// A damaged stream is refused with an error that says what kind of damage
// it is, and nothing reaches the caller.
func ExampleVerify_corrupt() {
	var sink bytes.Buffer
	w, _ := snapshot.NewWriter(&sink, snapshot.Header{Index: 7, Term: 1})
	w.Write([]byte("routes v7"))
	w.Close()

	damaged := sink.Bytes()
	damaged[len(damaged)-20] ^= 0x01 // one bit of the payload

	_, payload, err := snapshot.Verify(bytes.NewReader(damaged), os.TempDir())
	fmt.Println(payload == nil, errors.Is(err, snapshot.ErrCorrupt))
	_, _, err = snapshot.Verify(bytes.NewReader(sink.Bytes()[:30]), os.TempDir())
	fmt.Println(errors.Is(err, snapshot.ErrTruncated))
	// Output:
	// true true
	// true
}

// Saving a backup of a snapshot with what a new cluster needs to restore
// it, and reading it back.
func ExampleWriteBackup() {
	data := []byte("the snapshot stream, as raft's snapshot store holds it")
	cfg := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: "gw-1", Address: "10.0.0.1:7000"}}}
	var file bytes.Buffer
	err := snapshot.WriteBackup(&file, snapshot.BackupHeader{
		ClusterID:          "gateway",
		NodeID:             "gw-1",
		Index:              1200,
		Term:               4,
		ConfigurationIndex: 1,
		Configuration:      raft.EncodeConfiguration(cfg),
		Size:               int64(len(data)),
	}, bytes.NewReader(data))
	if err != nil {
		panic(err)
	}

	h, snap, err := snapshot.ReadBackup(&file, os.TempDir())
	if err != nil {
		panic(err)
	}
	defer snap.Close()
	restored, _ := h.RaftConfiguration()
	got, _ := io.ReadAll(snap)
	fmt.Printf("%s from %s at index %d, %d servers, %d bytes\n", h.ClusterID, h.NodeID, h.Index, len(restored.Servers), len(got))
	// Output: gateway from gw-1 at index 1200, 1 servers, 54 bytes
}

// Applying the default policy to a raft configuration.
func ExamplePolicy_ApplyTo() {
	p := snapshot.DefaultPolicy()
	if err := p.Validate(); err != nil {
		panic(err)
	}
	c := raft.DefaultConfig()
	p.ApplyTo(c)
	fmt.Println(c.SnapshotThreshold, c.SnapshotInterval, c.TrailingLogs, p.Retain)
	// Output: 1024 30s 4096 2
}
