package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
)

// statusBody is what GET /status answers.
type statusBody struct {
	ID             string        `json:"id"`
	ClusterID      string        `json:"cluster_id"`
	RaftAddr       string        `json:"raft_addr"`
	Role           string        `json:"role"`
	LeaderID       string        `json:"leader_id"`
	LeaderAddr     string        `json:"leader_addr"`
	Term           uint64        `json:"term"`
	CommitIndex    uint64        `json:"commit_index"`
	AppliedIndex   uint64        `json:"applied_index"`
	PersistedIndex uint64        `json:"persisted_index"`
	LastIndex      uint64        `json:"last_index"`
	LastContactMS  *int64        `json:"last_contact_ms"` // null on the leader or when never heard
	Readiness      readinessBody `json:"readiness"`
	Members        []memberBody  `json:"members"`
	Membership     string        `json:"membership"` // this node: "voter", "joining as voter", "voter, promoted at ..."
	Cluster        *clusterBody  `json:"cluster"`    // the leader's autopilot health view; null when none is recent
	Store          storeBody     `json:"store"`
	Admin          Stats         `json:"admin"`
	Gateway        any           `json:"gateway,omitempty"`
}

type readinessBody struct {
	State       readiness.State `json:"state"`
	Reason      string          `json:"reason,omitempty"`
	Since       time.Time       `json:"since"`
	Applied     uint64          `json:"applied_index"`
	Persisted   uint64          `json:"persisted_index"`
	SyncIndex   uint64          `json:"sync_index"`
	CommitIndex uint64          `json:"commit_index"`
	ReadyAt     *time.Time      `json:"ready_at"`
}

type memberBody struct {
	ID    string `json:"id"`
	Addr  string `json:"addr"`
	Voter bool   `json:"voter"`
}

// clusterBody is raftsync.ClusterHealth: per-server health and how many
// voters can fail now.
type clusterBody struct {
	Healthy          bool         `json:"healthy"`
	FailureTolerance int          `json:"failure_tolerance"`
	Voters           int          `json:"voters"`
	UpdatedAt        time.Time    `json:"updated_at"`
	Servers          []serverBody `json:"servers"`
}

type serverBody struct {
	ID               string    `json:"id"`
	Addr             string    `json:"addr"`
	Leader           bool      `json:"leader"`
	Voter            bool      `json:"voter"`
	Healthy          bool      `json:"healthy"`
	StableSince      time.Time `json:"stable_since"`
	LastContactMS    int64     `json:"last_contact_ms"` // negative: never heard from the leader
	TrailingLogs     uint64    `json:"trailing_logs"`
	PromotionPending bool      `json:"promotion_pending"`
	Dead             bool      `json:"dead"`
}

type storeBody struct {
	Index  uint64 `json:"index"`
	Routes int    `json:"routes"`
	Groups int    `json:"groups"`
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	st := s.cfg.Node.Status()
	rd := st.Readiness
	body := statusBody{
		ID: st.ID, ClusterID: st.ClusterID, RaftAddr: st.Addr, Role: st.State,
		LeaderID: st.LeaderID, LeaderAddr: st.LeaderAddr, Term: st.Term,
		CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex,
		PersistedIndex: st.PersistedIndex, LastIndex: st.LastIndex,
		Readiness: readinessBody{
			State: rd.State, Reason: rd.Reason, Since: rd.Since, Applied: rd.Applied,
			Persisted: rd.Persisted, SyncIndex: rd.SyncIndex, CommitIndex: rd.CommitIndex,
		},
		Members: []memberBody{},
		Admin:   s.Stats(),
	}
	if !rd.ReadyAt.IsZero() {
		body.Readiness.ReadyAt = &rd.ReadyAt
	}
	if st.State != "Leader" && !st.LastContact.IsZero() {
		ms := time.Since(st.LastContact).Milliseconds()
		body.LastContactMS = &ms
	}
	for _, m := range st.Members {
		body.Members = append(body.Members, memberBody{ID: m.ID, Addr: m.Addr, Voter: !m.NonVoter})
	}
	body.Membership = st.Membership.String()
	if h := st.Cluster; h != nil {
		body.Cluster = &clusterBody{Healthy: h.Healthy, FailureTolerance: h.FailureTolerance, Voters: h.Voters, UpdatedAt: h.UpdatedAt, Servers: []serverBody{}}
		for _, s := range h.Servers {
			body.Cluster.Servers = append(body.Cluster.Servers, serverBody{
				ID: s.ID, Addr: s.Addr, Leader: s.Leader, Voter: s.Voter, Healthy: s.Healthy, StableSince: s.StableSince,
				LastContactMS: s.LastContact.Milliseconds(), TrailingLogs: s.TrailingLogs,
				PromotionPending: s.PromotionPending, Dead: s.Dead,
			})
		}
	}
	routes, at := s.cfg.Store.Routes()
	groups, _ := s.cfg.Store.Groups()
	body.Store = storeBody{Index: at, Routes: len(routes), Groups: len(groups)}
	if s.cfg.Extra != nil {
		body.Gateway = s.cfg.Extra()
	}
	writeJSON(w, http.StatusOK, body)
}

// removeMember removes a member that is gone for good (raftsync.Node.
// RemoveServer, through the leader). A live node should leave by itself.
func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "timeout")
	var d time.Duration
	if err == nil {
		d, err = s.timeout(q)
	}
	id := r.PathValue("id")
	if err == nil && id == s.cfg.Node.ID() {
		err = fmt.Errorf("%w: a node cannot remove itself; stop it and remove it through another member", ErrBadRequest)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	defer cancel()
	if err := s.cfg.Node.RemoveServer(ctx, id); err != nil {
		code := applyStatus(err)
		if errors.Is(err, raftsync.ErrNotLeader) {
			code = http.StatusServiceUnavailable
		}
		writeError(w, code, applyError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"removed": id})
}

// dataPlane answers GET /v1/proxy: the proxy's counters, after waiting,
// with ?wait_index=N, until the proxy serves index N. X-Raft-Index is the
// index the proxy serves.
func (s *Server) dataPlane(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "wait_index", "timeout")
	var d time.Duration
	if err == nil {
		d, err = s.timeout(q)
	}
	var idx uint64
	if v := q.Get("wait_index"); err == nil && v != "" {
		if idx, err = strconv.ParseUint(v, 10, 64); err != nil {
			err = fmt.Errorf("%w: wait_index %q is not a log index (an unsigned integer)", ErrBadRequest, v)
		}
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	defer cancel()
	dp := s.cfg.DataPlane
	if err := dp.WaitIndex(ctx, idx); err != nil {
		st := dp.Stats()
		setIndex(w, st.SyncedIndex)
		writeError(w, http.StatusGatewayTimeout, fmt.Errorf("the proxy serves index %d, not yet %d: %w", st.SyncedIndex, idx, err))
		return
	}
	st := dp.Stats()
	setIndex(w, st.SyncedIndex)
	writeJSON(w, http.StatusOK, st)
}
