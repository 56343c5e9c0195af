package raftsync

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/wire"
	"github.com/raftkit/raftkit/readiness"
)

// Member is one server in the cluster configuration. In JSON it is
// {"id", "addr", "voter"}: voter is !NonVoter, the way operators ask.
type Member struct {
	ID       string
	Addr     string
	NonVoter bool
}

type memberJSON struct {
	ID    string `json:"id"`
	Addr  string `json:"addr"`
	Voter bool   `json:"voter"`
}

// MarshalJSON encodes m as {"id", "addr", "voter"}.
func (m Member) MarshalJSON() ([]byte, error) {
	return json.Marshal(memberJSON{ID: m.ID, Addr: m.Addr, Voter: !m.NonVoter})
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (m *Member) UnmarshalJSON(b []byte) error {
	var j memberJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*m = Member{ID: j.ID, Addr: j.Addr, NonVoter: !j.Voter}
	return nil
}

// Status is a point-in-time view of the node, for status pages and
// debugging; StatusHandler serves it as JSON with the field names in the
// tags. It is assembled from several sources without a common lock, so
// its fields may be a few entries apart.
type Status struct {
	ID             string `json:"id"`
	ClusterID      string `json:"cluster_id"`
	Addr           string `json:"addr"`      // advertised address
	State          string `json:"role"`      // raft role: Follower, Candidate, Leader, Shutdown
	LeaderID       string `json:"leader_id"` // empty when no leader is known
	LeaderAddr     string `json:"leader_addr"`
	Term           uint64 `json:"term"`
	CommitIndex    uint64 `json:"commit_index"`    // highest index this node knows committed
	AppliedIndex   uint64 `json:"applied_index"`   // applied by the application FSM
	PersistedIndex uint64 `json:"persisted_index"` // durably recorded applied index
	LastIndex      uint64 `json:"last_index"`      // last index in this node's log
	// LastContact is when a follower last heard from the leader; zero (and
	// left out of JSON) on the leader and before any contact.
	LastContact time.Time        `json:"last_contact,omitzero"`
	Members     []Member         `json:"members"`   // the latest configuration
	Readiness   readiness.Status `json:"readiness"` // readiness state and reason
	// Membership is this node's own role ("joining as voter", "voter,
	// promoted at ..."); a string in JSON.
	Membership Membership `json:"membership"`
	// Cluster is autopilot's view of every member's health and the
	// cluster's failure tolerance: the leader's own, or on another member
	// the one the current leader last sent it (within three of its
	// update intervals and an election timeout). Nil while autopilot is
	// disabled, before its first evaluation, or when no recent view came
	// from the leader this node knows.
	Cluster *ClusterHealth `json:"cluster"`
	// Lease is the leader's read lease; zero on other nodes.
	Lease LeaseStatus `json:"lease"`
}

// LeaseStatus is the state of the leader's read lease (docs/consistency.md).
type LeaseStatus struct {
	// Held: this node leads and holds a lease for its term in raft's
	// latest configuration, so a Lease read is served without a round.
	Held bool `json:"held"`
	// Remaining is how long the lease has left; zero when not Held.
	Remaining time.Duration `json:"remaining_ns"`
	// LastConfirmed is when the latest quorum round that confirmed this
	// node's leadership was sent; zero when none did in this run.
	LastConfirmed time.Time `json:"last_confirmed,omitzero"`
	// LastConfirmedTerm is the term of that round.
	LastConfirmedTerm uint64 `json:"last_confirmed_term,omitempty"`
}

// Status returns a snapshot of the node's state. It does not block on the
// network; it reads raft's configuration, which takes a trip through raft's
// main loop.
func (n *Node) Status() Status {
	ep := n.lead.epoch.Load()
	st := Status{
		ID:             n.cfg.ID,
		ClusterID:      n.ClusterID(),
		Addr:           n.net.advertise,
		LeaderID:       ep.leaderID,
		LeaderAddr:     ep.leaderAddr,
		AppliedIndex:   n.fsm.applied.Index(),
		PersistedIndex: n.persist.index(),
		Readiness:      n.monitor.tracker.Status(),
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
		st.Lease = n.leaseStatus(st.Term, st.CommitIndex)
	} else {
		st.Cluster = n.peers.role.leaderHealth(st.LeaderID, time.Now(), n.reportedHealthAge())
	}
	return st
}

// leaseStatus reports the leader's lease for term.
func (n *Node) leaseStatus(term, commit uint64) LeaseStatus {
	var ls LeaseStatus
	if c := n.lead.quorumContact.Load(); c != nil {
		ls.LastConfirmed, ls.LastConfirmedTerm = c.sentAt, c.term
	}
	if rem := n.lead.lease.Remaining(term); rem > 0 && n.leaseConfigCurrent(commit) {
		ls.Held, ls.Remaining = true, rem
	}
	return ls
}

// StatusHandler returns an http.Handler that answers GET and HEAD with
// Status as JSON (Content-Type application/json, not cacheable), and 405
// for other methods. It never blocks on the network; a program usually
// mounts it at /status, behind the same access control as its other
// operator endpoints (it names members and their addresses).
func (n *Node) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		b, err := json.MarshalIndent(n.Status(), "", "  ")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(append(b, '\n'))
	})
}

// Leader returns the ID and address of the leader this node knows, or
// empty strings when it knows none.
func (n *Node) Leader() (id, addr string) {
	ep := n.lead.epoch.Load()
	return ep.leaderID, ep.leaderAddr
}

// State returns the node's raft role.
func (n *Node) State() raft.RaftState {
	if n.raft == nil {
		return raft.Shutdown
	}
	return n.raft.State()
}

// AppliedIndex returns the highest log index the application's FSM has
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
