package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/examples/gateway/route"
	"github.com/raftkit/raftkit/examples/gateway/store"
	"github.com/raftkit/raftkit/raftsync"
)

// routeBody is a route as the API shows it: the PUT body's fields plus its
// ID and the index of the write that last changed it.
type routeBody struct {
	ID string `json:"id"`
	route.Route
	ModifiedIndex uint64 `json:"modified_index"`
}

type groupBody struct {
	ID string `json:"id"`
	route.Group
	ModifiedIndex uint64 `json:"modified_index"`
}

func toRouteBody(e store.RouteEntry) routeBody {
	r := e.Route.Clone()
	if r.SetHeaders == nil {
		r.SetHeaders = map[string]string{} // show {} as the PUT body does
	}
	return routeBody{ID: e.ID, Route: r, ModifiedIndex: e.ModifiedIndex}
}

func (s *Server) getRoute(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	s.read(w, r, func() (any, uint64, error) {
		e, ok, at := s.cfg.Store.Route(id)
		if !ok {
			return nil, at, errNotFound{fmt.Sprintf("route %q does not exist", id)}
		}
		return toRouteBody(e), at, nil
	})
}

func (s *Server) listRoutes(w http.ResponseWriter, r *http.Request) {
	s.read(w, r, func() (any, uint64, error) {
		all, at := s.cfg.Store.Routes()
		out := make([]routeBody, len(all))
		for i, e := range all {
			out[i] = toRouteBody(e)
		}
		return map[string]any{"routes": out}, at, nil
	})
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	s.read(w, r, func() (any, uint64, error) {
		e, ok, at := s.cfg.Store.Group(id)
		if !ok {
			return nil, at, errNotFound{fmt.Sprintf("upstream group %q does not exist", id)}
		}
		return groupBody{ID: e.ID, Group: e.Group, ModifiedIndex: e.ModifiedIndex}, at, nil
	})
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	s.read(w, r, func() (any, uint64, error) {
		all, at := s.cfg.Store.Groups()
		out := make([]groupBody, len(all))
		for i, e := range all {
			out[i] = groupBody{ID: e.ID, Group: e.Group, ModifiedIndex: e.ModifiedIndex}
		}
		return map[string]any{"groups": out}, at, nil
	})
}

type errNotFound struct{ msg string }

func (e errNotFound) Error() string { return e.msg }

// readParams are a read's query parameters.
type readParams struct {
	level     consistency.Level
	waitIndex uint64
}

func (s *Server) parseRead(r *http.Request) (readParams, context.Context, context.CancelFunc, error) {
	q, err := query(r, "consistency", "wait_index", "timeout")
	if err != nil {
		return readParams{}, nil, nil, err
	}
	var p readParams
	if v := q.Get("consistency"); v != "" {
		if p.level, err = consistency.ParseLevel(v); err != nil {
			return readParams{}, nil, nil, fmt.Errorf("%w: consistency: %w", ErrBadRequest, err)
		}
	}
	if v := q.Get("wait_index"); v != "" {
		if p.waitIndex, err = strconv.ParseUint(v, 10, 64); err != nil {
			return readParams{}, nil, nil, fmt.Errorf("%w: wait_index %q is not a log index (an unsigned integer)", ErrBadRequest, v)
		}
	}
	d, err := s.timeout(q)
	if err != nil {
		return readParams{}, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	return p, ctx, cancel, nil
}

// read serves a read at the requested level: wait for ?wait_index, make
// the node's state satisfy the level (raftsync.Node.ReadIndex), and only
// then run get against the store. X-Raft-Index is the later of the read
// index and the store's index at the moment get ran: the answer reflects
// every write up to it. With the node's read fence on, the answer is sent
// only once the fence covers that index (raftsync.Node.Fence): entries
// applied between ReadIndex and get are covered too, so after a crash the
// node never answers with older state than this.
func (s *Server) read(w http.ResponseWriter, r *http.Request, get func() (any, uint64, error)) {
	p, ctx, cancel, err := s.parseRead(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	defer cancel()
	node := s.cfg.Node
	if p.waitIndex > 0 {
		if err := node.WaitIndex(ctx, p.waitIndex); err != nil {
			writeError(w, readStatus(err), fmt.Errorf("waiting for index %d (applied %d): %w", p.waitIndex, node.AppliedIndex(), err))
			return
		}
	}
	info, err := node.ReadIndex(ctx, p.level)
	if err != nil {
		writeError(w, readStatus(err), fmt.Errorf("%s read: %w", p.level, err))
		return
	}
	body, at, err := get()
	served := max(at, info.Index)
	if ferr := node.Fence(ctx, served); ferr != nil {
		writeError(w, readStatus(ferr), fmt.Errorf("%s read: read fence at index %d: %w", p.level, served, ferr))
		return
	}
	setIndex(w, served)
	h := w.Header()
	h.Set("X-Raft-Consistency", info.Level.String())
	h.Set("X-Raft-Known-Leader", strconv.FormatBool(info.KnownLeader))
	h.Set("X-Raft-Last-Contact", strconv.FormatInt(info.LastContact.Milliseconds(), 10))
	var nf errNotFound
	switch {
	case errors.As(err, &nf):
		writeError(w, http.StatusNotFound, err)
	case err != nil:
		writeError(w, http.StatusInternalServerError, err)
	default:
		writeJSON(w, http.StatusOK, body)
	}
}

func readStatus(err error) int {
	switch {
	case errors.Is(err, raftsync.ErrNotReady), errors.Is(err, raftsync.ErrNoLeader),
		errors.Is(err, consistency.ErrTooStale), errors.Is(err, raftsync.ErrClosed),
		errors.Is(err, raftsync.ErrTimeout):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}
