package raftsync

import (
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/wire"
	"github.com/raftkit/raftkit/readiness"
)

// Member is one server in the cluster configuration.
type Member struct {
	ID       string
	Addr     string
	NonVoter bool
}

// Status is a point-in-time view of the node, for status pages and
// debugging. It is assembled from several sources without a common lock,
// so its fields may be a few entries apart.
type Status struct {
	ID, ClusterID  string
	Addr           string // advertised address
	State          string // raft role: Follower, Candidate, Leader, Shutdown
	LeaderID       string // empty when no leader is known
	LeaderAddr     string
	Term           uint64
	CommitIndex    uint64           // highest index this node knows committed
	AppliedIndex   uint64           // A: applied by the application FSM
	PersistedIndex uint64           // P: durably recorded applied index
	LastIndex      uint64           // last index in this node's log
	LastContact    time.Time        // follower: last time it heard from the leader
	Members        []Member         // the latest configuration
	Readiness      readiness.Status // readiness state and reason
	// Membership is this node's own role ("joining as voter", "voter,
	// promoted at ...").
	Membership Membership
	// Cluster is autopilot's view of every member's health and the
	// cluster's failure tolerance: the leader's own, or on another member
	// the one the current leader last sent it (within three of its
	// update intervals and an election timeout). Nil while autopilot is
	// disabled, before its first evaluation, or when no recent view came
	// from the leader this node knows.
	Cluster *ClusterHealth
}

// Status returns a snapshot of the node's state. It does not block on the
// network; it reads raft's configuration, which takes a trip through raft's
// main loop.
func (n *Node) Status() Status {
	ep := n.epoch.Load()
	st := Status{
		ID:             n.cfg.ID,
		ClusterID:      n.ClusterID(),
		Addr:           n.advertise,
		LeaderID:       ep.leaderID,
		LeaderAddr:     ep.leaderAddr,
		AppliedIndex:   n.fsm.applied.Index(),
		PersistedIndex: n.persist.index(),
		Readiness:      n.tracker.Status(),
	}
	if n.raft == nil {
		return st
	}
	st.State = n.raft.State().String()
	st.Term = n.raft.CurrentTerm()
	st.CommitIndex = n.raft.CommitIndex()
	st.LastIndex = n.raft.LastIndex()
	st.LastContact = n.raft.LastContact()
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			st.Members = append(st.Members, Member{ID: string(s.ID), Addr: string(s.Address), NonVoter: s.Suffrage != raft.Voter})
		}
		st.Membership = n.roleIn(f.Configuration())
	}
	if n.raft.State() == raft.Leader {
		st.Cluster = n.pilot.clusterHealth()
	} else {
		st.Cluster = n.role.leaderHealth(st.LeaderID, time.Now(), n.reportedHealthAge())
	}
	return st
}

// Leader returns the ID and address of the leader this node knows, or
// empty strings when it knows none.
func (n *Node) Leader() (id, addr string) {
	ep := n.epoch.Load()
	return ep.leaderID, ep.leaderAddr
}

// State returns the node's raft role.
func (n *Node) State() raft.RaftState {
	if n.raft == nil {
		return raft.Shutdown
	}
	return n.raft.State()
}

// AppliedIndex returns A, the highest log index the application's FSM has
// finished applying. Unlike raft's AppliedIndex, which counts entries handed
// to the FSM, it moves only after the FSM's Apply or ApplyBatch returned.
func (n *Node) AppliedIndex() uint64 { return n.fsm.applied.Index() }

func (n *Node) handleStatus() *wire.StatusResponse {
	st := n.Status()
	return &wire.StatusResponse{
		ID: st.ID, State: st.State, LeaderID: st.LeaderID, LeaderAddr: st.LeaderAddr, ClusterID: st.ClusterID,
		Term: st.Term, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex, LastIndex: st.LastIndex,
	}
}
