package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/raftkit/raftkit/examples/gateway/route"
	"github.com/raftkit/raftkit/raftsync"
)

// writeResult is the body of a successful write.
type writeResult struct {
	Index uint64 `json:"index"`
	ID    string `json:"id,omitempty"`
}

func (s *Server) putRoute(w http.ResponseWriter, r *http.Request) {
	id, q, ok := s.writePrologue(w, r, true)
	if !ok {
		return
	}
	rt, err := route.DecodeRoute(s.body(w, r))
	if err == nil {
		err = s.checkUpstreams(r, rt.Upstreams)
	}
	if err != nil {
		s.refuse(w, err)
		return
	}
	if idx, ok := s.apply(w, r, q, route.Command{Op: route.OpPutRoute, ID: id, Route: &rt}); ok {
		writeJSON(w, http.StatusOK, writeResult{Index: idx})
	}
}

func (s *Server) createRoute(w http.ResponseWriter, r *http.Request) {
	_, q, ok := s.writePrologue(w, r, false)
	if !ok {
		return
	}
	id, rt, err := route.DecodeNewRoute(s.body(w, r))
	if err == nil {
		err = s.checkUpstreams(r, rt.Upstreams)
	}
	if err != nil {
		s.refuse(w, err)
		return
	}
	if idx, ok := s.apply(w, r, q, route.Command{Op: route.OpCreateRoute, ID: id, Route: &rt}); ok {
		w.Header().Set("Location", "/v1/routes/"+id)
		writeJSON(w, http.StatusCreated, writeResult{Index: idx, ID: id})
	}
}

func (s *Server) deleteRoute(w http.ResponseWriter, r *http.Request) {
	id, q, ok := s.writePrologue(w, r, true)
	if !ok {
		return
	}
	if idx, ok := s.apply(w, r, q, route.Command{Op: route.OpDeleteRoute, ID: id}); ok {
		writeJSON(w, http.StatusOK, writeResult{Index: idx})
	}
}

func (s *Server) putGroup(w http.ResponseWriter, r *http.Request) {
	id, q, ok := s.writePrologue(w, r, true)
	if !ok {
		return
	}
	g, err := route.DecodeGroup(s.body(w, r))
	if err == nil {
		err = s.checkUpstreams(r, g.Upstreams)
	}
	if err != nil {
		s.refuse(w, err)
		return
	}
	if idx, ok := s.apply(w, r, q, route.Command{Op: route.OpPutGroup, ID: id, Group: &g}); ok {
		writeJSON(w, http.StatusOK, writeResult{Index: idx})
	}
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	id, q, ok := s.writePrologue(w, r, true)
	if !ok {
		return
	}
	if idx, ok := s.apply(w, r, q, route.Command{Op: route.OpDeleteGroup, ID: id}); ok {
		writeJSON(w, http.StatusOK, writeResult{Index: idx})
	}
}

// writePrologue checks the query and, when hasID, the path ID. It answers
// the request itself when they are bad.
func (s *Server) writePrologue(w http.ResponseWriter, r *http.Request, hasID bool) (string, map[string][]string, bool) {
	q, err := query(r, "timeout")
	if err == nil {
		_, err = s.timeout(q)
	}
	var id string
	if err == nil && hasID {
		id, err = pathID(r)
	}
	if err != nil {
		s.refuse(w, err)
		return "", nil, false
	}
	return id, q, true
}

// upstreamCheckTimeout bounds the name resolution of one write's upstreams.
const upstreamCheckTimeout = 5 * time.Second

// checkUpstreams checks upstreams against the address policy
// (route.UpstreamPolicy.CheckUpstreams), resolving host names.
func (s *Server) checkUpstreams(r *http.Request, ups []route.Upstream) error {
	ctx, cancel := context.WithTimeout(r.Context(), upstreamCheckTimeout)
	defer cancel()
	err := s.cfg.Upstreams.CheckUpstreams(ctx, ups)
	if err != nil && !errors.Is(err, route.ErrInvalid) {
		return fmt.Errorf("%w: checking the upstreams' addresses: %w", ErrBadRequest, err)
	}
	return err
}

// body returns the request body, capped at route.MaxBodyBytes.
func (s *Server) body(w http.ResponseWriter, r *http.Request) io.Reader {
	return http.MaxBytesReader(w, r.Body, route.MaxBodyBytes)
}

// refuse answers a write that never reached Raft: 413 for an oversized
// body, 400 otherwise.
func (s *Server) refuse(w http.ResponseWriter, err error) {
	s.refused.Add(1)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("request body larger than %d bytes", tooBig.Limit))
		return
	}
	writeError(w, http.StatusBadRequest, err)
}

// apply commits cmd through the node and answers errors and rejections
// itself. On success it sets X-Raft-Index and returns the index.
func (s *Server) apply(w http.ResponseWriter, r *http.Request, q map[string][]string, cmd route.Command) (uint64, bool) {
	d, _ := s.timeout(q) // checked by writePrologue
	ctx, cancel := context.WithTimeout(r.Context(), d)
	defer cancel()
	s.applies.Add(1)
	res, err := s.cfg.Node.Apply(ctx, cmd.Encode())
	if err != nil {
		s.applyFailures.Add(1)
		s.cfg.Logger.Warn("write failed", "op", cmd.Op, "id", cmd.ID, "error", err)
		writeError(w, applyStatus(err), applyError(err))
		return 0, false
	}
	setIndex(w, res.Index)
	if rej := rejection(res.Response); rej != nil {
		s.rejected.Add(1)
		code := http.StatusBadRequest
		switch rej.Code {
		case route.CodeConflict:
			code = http.StatusConflict
		case route.CodeNotFound:
			code = http.StatusNotFound
		}
		writeError(w, code, errors.New(rej.Reason))
		return 0, false
	}
	return res.Index, true
}

// rejection decodes a state machine refusal from an Apply response: the
// store answers []byte, which stays []byte when forwarded.
func rejection(resp any) *route.Rejection {
	var b []byte
	switch v := resp.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return nil
	}
	if len(b) == 0 {
		return nil
	}
	rej, err := route.DecodeRejection(b)
	if err != nil {
		return &route.Rejection{Code: route.CodeInvalid, Reason: err.Error()}
	}
	return rej
}

func applyStatus(err error) int {
	switch {
	case errors.Is(err, raftsync.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, raftsync.ErrIndeterminate), errors.Is(err, raftsync.ErrCommittedNoResponse),
		errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, raftsync.ErrNoLeader), errors.Is(err, raftsync.ErrNotReady),
		errors.Is(err, raftsync.ErrClosed), errors.Is(err, raftsync.ErrTimeout):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func applyError(err error) error {
	if errors.Is(err, raftsync.ErrIndeterminate) {
		return fmt.Errorf("the write's outcome is unknown (it may or may not have been applied; read it back to find out): %w", err)
	}
	if errors.Is(err, raftsync.ErrCommittedNoResponse) {
		// Committed, but whether the store accepted or refused it is in
		// the response that was lost.
		return fmt.Errorf("the write was committed but its result was lost (read it back to find out whether it was accepted): %w", err)
	}
	return err
}
