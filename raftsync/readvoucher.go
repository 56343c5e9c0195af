package raftsync

import (
	"math/rand/v2"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/quorum"
	"github.com/raftkit/raftkit/internal/wire"
)

// A follower's Strong read costs a round trip to the leader and, on the
// leader, a quorum round: two round trips. In a cluster where the leader
// and the asking follower are a quorum of the voters (three voters), the
// follower's request can stand in for the round, and its read costs one
// round trip, the leader's own.
//
// Why that is linearizable, with no clock assumption. A read must see
// every write that completed before it started; such a write was committed
// in a term no later than the leader's term T, unless a leader of a newer
// term was elected before the read started. The follower reads its raft
// term (t0) after every read it asks for started; a term of T at t0 proves
// it had voted for no candidate of a newer term by then (raft raises its
// term before granting a vote). The leader, on receipt (t1 > t0), reads
// its commit index, then checks that it is leader in term T: it had voted
// for no newer candidate by then either. If the configuration was the same
// throughout [t0, t1], the two are a quorum of it, and a newer leader
// elected before t0 would have needed a vote from one of them (the
// argument of votersNow, with the follower's term read standing for an
// acknowledgement received during the round). So no such leader existed,
// and the commit index read at t1 covers every write completed before t0.
//
// The configuration is pinned with a stamp. The leader names the
// configuration it reads with a fresh number (issued, below) and sends the
// number back in its read-index answers; a follower vouches with the
// number of the latest answer it got from the leader it asks, so the
// leader's read of the configuration happened before the follower's term
// read. At t1 the leader finds the same configuration (raft replaces it
// with a fresh copy on every change, see configurationKey): it was raft's
// latest configuration from the stamp's read to t1, which contains t0.
//
// A voucher is accepted only for its own request's answer, never shared
// with other reads: a follower that lies (a wrong term, a stamp it never
// got, another node's ID) can only make its own read stale. The stamp
// numbers start at a random value per node, so a number received from an
// earlier leader does not name a stamp of this one.

// readStamp names the configuration a leader read in its term.
type readStamp struct {
	seq  uint64
	term uint64
	key  *raft.Server // configurationKey of the configuration read
}

// readStamps issues a leader's stamps.
type readStamps struct {
	next    atomic.Uint64
	current atomic.Pointer[readStamp]
}

// newReadStamps starts the stamp numbers at a random non-zero value.
func newReadStamps() *readStamps {
	s := &readStamps{}
	s.next.Store(rand.Uint64() | 1)
	return s
}

// stampFor returns the stamp of the configuration servers (read by the
// caller, just now) in term: the current one when it names that
// configuration in that term, or a fresh one.
func (s *readStamps) stampFor(term uint64, servers []raft.Server) *readStamp {
	key := configurationKey(servers)
	if cur := s.current.Load(); cur != nil && cur.term == term && cur.key == key {
		return cur
	}
	st := &readStamp{seq: s.next.Add(1), term: term, key: key}
	if st.seq == 0 { // zero claims no stamp on the wire
		st.seq = s.next.Add(1)
	}
	s.current.Store(st)
	return st
}

// voucherStands reports whether a follower's voucher v, checked by the
// leader self in term with the stamp current at the check and servers
// (raft's latest configuration, read after the commit index), stands in
// for a quorum round: the stamp is the one v names, of this term and of
// this very configuration; v's term is this term; self and v's voter are
// two distinct voters of it, and two voters are a quorum of it.
func voucherStands(v wire.ReadVoucher, self string, term uint64, cur *readStamp, servers []raft.Server) bool {
	if cur == nil || v.Stamp == 0 || v.Stamp != cur.seq || cur.term != term || v.Term != term {
		return false
	}
	if v.VoterID == "" || v.VoterID == self || configurationKey(servers) != cur.key {
		return false
	}
	voters, selfVotes, voucherVotes := 0, false, false
	for _, s := range servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		voters++
		switch string(s.ID) {
		case self:
			selfVotes = true
		case v.VoterID:
			voucherVotes = true
		}
	}
	return selfVotes && voucherVotes && quorum.Quorum(voters) <= 2
}

// vouchedReadIndex is the leader's answer to a follower's Strong read that
// carries voucher v: the commit index, when the voucher stands in for the
// quorum round. The caller has checked that this term's first entry is
// applied.
func (n *Node) vouchedReadIndex(ep *epoch, v wire.ReadVoucher) (uint64, bool) {
	cur := n.lead.stamps.current.Load()
	if cur == nil || v.Stamp != cur.seq {
		return 0, false
	}
	idx := n.raft.CommitIndex()
	if n.raft.CurrentTerm() != ep.term || n.raft.State() != raft.Leader {
		return 0, false
	}
	servers, err := n.votersNow()
	if err != nil || !voucherStands(v, n.cfg.ID, ep.term, cur, servers) {
		return 0, false
	}
	return idx, true
}

// currentStamp returns the stamp to send with a read-index answer given in
// term: the configuration is read now, after the answer's index.
func (n *Node) currentStamp(term uint64) uint64 {
	servers, err := n.votersNow()
	if err != nil {
		return 0
	}
	return n.lead.stamps.stampFor(term, servers).seq
}

// voucher is what this follower states when it asks the leader of ep for
// a Strong read index: the stamp last received from that leader, then its
// raft term, read in that order (see the top of this file).
func (n *Node) voucher(ep *epoch) wire.ReadVoucher {
	stamp := ep.stamp.Load()
	if stamp == 0 {
		return wire.ReadVoucher{}
	}
	return wire.ReadVoucher{VoterID: n.cfg.ID, Stamp: stamp, Term: n.raft.CurrentTerm()}
}
