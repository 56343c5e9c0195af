package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/raftkit/raftkit/raftsync"
)

// statusBody is what GET /status answers: the node's raftsync.Status, in
// the JSON its tags give (what Node.StatusHandler serves), with the
// gateway's store, admin and data plane counters beside it.
type statusBody struct {
	raftsync.Status
	Store   storeBody `json:"store"`
	Admin   Stats     `json:"admin"`
	Gateway any       `json:"gateway,omitempty"`
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
	body := statusBody{Status: s.cfg.Node.Status(), Admin: s.Stats()}
	if body.Members == nil {
		body.Members = []raftsync.Member{}
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
