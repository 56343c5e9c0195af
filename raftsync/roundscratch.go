package raftsync

import (
	"sync"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/quorum"
	"github.com/raftkit/raftkit/internal/wire"
)

// roundScratch holds what a leader round builds and drops again: the
// voters, the peers asked, their addresses, the acks, an answer being
// decoded, and the encoded
// confirmation request, which stays the same for a node's whole term. A
// round takes one from roundScratches and puts it back when it ends, so
// that rounds reuse the buffers instead of allocating them; nothing in it
// outlives the round that holds it.
type roundScratch struct {
	voterIDs []string
	peers    []raft.Server
	addrs    []string
	acks     []quorum.Ack
	resp     wire.ConfirmResponse // the answer being decoded

	req       wire.Frame // ConfirmRequest{Term: reqTerm, LeaderID: reqLeader}
	reqTerm   uint64
	reqLeader string
}

var roundScratches = sync.Pool{New: func() any { return new(roundScratch) }}

func getRoundScratch() *roundScratch {
	s := roundScratches.Get().(*roundScratch)
	s.voterIDs, s.peers, s.addrs, s.acks = s.voterIDs[:0], s.peers[:0], s.addrs[:0], s.acks[:0]
	return s
}

// confirmRequest returns the encoded ConfirmRequest of leaderID in term,
// encoding it only when the last one was for another term or node. The
// body is never written to, so calls still reading it are unaffected when
// it is replaced.
func (s *roundScratch) confirmRequest(term uint64, leaderID string) (wire.Frame, error) {
	if s.req.Body == nil || s.reqTerm != term || s.reqLeader != leaderID {
		f, err := wire.Encode(0, &wire.ConfirmRequest{Term: term, LeaderID: leaderID})
		if err != nil {
			return wire.Frame{}, err
		}
		s.req, s.reqTerm, s.reqLeader = f, term, leaderID
	}
	return s.req, nil
}
