package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// readLevel is the consistency a read load asks for.
type readLevel int

const (
	readStrong readLevel = iota // raftkit Strong; bare raft VerifyLeader; etcd linearizable
	readLease                   // raftkit Lease
	readStale                   // raftkit Stale; bare raft local FSM; etcd serializable
)

func (l readLevel) String() string {
	switch l {
	case readStrong:
		return "strong"
	case readLease:
		return "lease"
	case readStale:
		return "stale"
	}
	return fmt.Sprintf("readLevel(%d)", int(l))
}

// errUnsupported marks a cell a system does not offer (bare raft has no
// forwarding, no follower Strong read and no lease read). The cell is left
// out of the table, not counted as a failure.
var errUnsupported = errors.New("not offered by this system")

// errMissingKey is returned by a read that did not find the key the load
// wrote before it: the read would have been wrong.
var errMissingKey = errors.New("bench: read did not find the key written before the run")

// inproc is a three-node cluster running in this process.
type inproc interface {
	// leader waits until the members agree on a leader and returns its
	// index.
	leader(ctx context.Context) (int, error)
	// apply commits cmd through member i.
	apply(ctx context.Context, i int, cmd []byte) error
	// read reads key on member i at level.
	read(ctx context.Context, i int, level readLevel, key string) error
	// close stops every member.
	close() error
}

// member picks the leader or a follower of c.
func member(ctx context.Context, c inproc, onFollower bool) (int, error) {
	l, err := c.leader(ctx)
	if err != nil || !onFollower {
		return l, err
	}
	return (l + 1) % 3, nil
}

// poll calls cond every millisecond until it holds or ctx ends.
func poll(ctx context.Context, what string, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: waiting for %s: %w", what, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}
