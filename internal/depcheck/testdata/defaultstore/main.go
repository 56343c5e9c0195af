// Command defaultstore is the smallest program that opens a raftsync node
// with the default stores; depcheck lists what it links. It is never run.
package main

import (
	"context"
	"log"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/raftsync"
)

func main() {
	var app raft.FSM // an application's FSM
	n, err := raftsync.Open(context.Background(), raftsync.Config{ID: "n1", Dir: "data", Addr: "127.0.0.1:0", Bootstrap: true}, app)
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close()
}
