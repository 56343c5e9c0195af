package raftsync

import (
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/mux"
	"github.com/raftkit/raftkit/internal/rpc"
)

// network is the node's one listener and what runs over it: the mux that
// separates raft traffic from the node's own RPC, raft's transport behind
// the vote fence, and the RPC server and client. startNetwork builds it
// before raft starts and Open fills fence just before; shutdown closes it
// after raft has stopped. No field changes once raft runs.
type network struct {
	// advertise is the address other members reach this node at.
	advertise string
	mux       *mux.Mux
	trans     *raft.NetworkTransport
	fence     *voteFence // wraps trans for raft; see votefence.go
	rpcSrv    *rpc.Server
	rpcCli    *rpc.Client
	rpcSeq    atomic.Uint64 // request IDs of the frames this node sends
}
