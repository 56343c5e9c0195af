package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/raftkit/raftkit/examples/gateway/proxy"
	"github.com/raftkit/raftkit/examples/gateway/route"
	"github.com/raftkit/raftkit/examples/gateway/store"
	"github.com/raftkit/raftkit/raftsync"
)

// Defaults and bounds for ?timeout.
const (
	DefaultTimeout = 10 * time.Second
	MaxTimeout     = time.Minute
)

// ErrBadRequest is wrapped by the errors the API answers 400 for that are
// not about the body (query parameters, path IDs).
var ErrBadRequest = errors.New("bad request")

// Config wires the admin API to a node.
type Config struct {
	Node  *raftsync.Node // required
	Store store.Store    // required: the FSM the node was opened with
	// Metrics is served at /metrics when set.
	Metrics http.Handler
	// DataPlane, when set, is served at GET /v1/proxy: its counters, and
	// with ?wait_index=N a wait until it serves index N.
	DataPlane DataPlane
	// Extra, when set, is added to /status under "gateway" (the data
	// plane's counters and listening addresses, say).
	Extra func() any
	// Timeout bounds a request's wait for Raft when it names no
	// ?timeout. Default DefaultTimeout.
	Timeout time.Duration
	// Logger receives failed writes and refused requests. Default: none.
	Logger hclog.Logger
	// Auth says who may call the API. Required: the zero value is refused.
	Auth Auth
	// Upstreams is the policy route and group upstreams are checked
	// against before a write reaches Raft. Default: the strictest
	// (&route.UpstreamPolicy{}).
	Upstreams *route.UpstreamPolicy
}

// DataPlane is what the admin API needs from the proxy.
type DataPlane interface {
	// WaitIndex blocks until the data plane serves the node's log index
	// index, or ctx ends (returning its error).
	WaitIndex(ctx context.Context, index uint64) error
	// Stats returns the data plane's counters; SyncedIndex is the index
	// it serves.
	Stats() proxy.Stats
}

// Server is the admin API's http.Handler. Create it with New.
type Server struct {
	cfg Config
	mux *http.ServeMux

	applies, applyFailures, rejected, refused atomic.Uint64
	unauthorized, forbidden                   atomic.Uint64

	denyLog        sync.Mutex // rate-limits the refusal log
	denyLast       time.Time
	denySuppressed uint64
}

// Stats counts what the admin API did with writes.
type Stats struct {
	// Applies counts commands handed to raftsync.Node.Apply.
	Applies uint64 `json:"applies"`
	// ApplyFailures counts Apply calls that returned an error (no leader,
	// outcome unknown, ...).
	ApplyFailures uint64 `json:"apply_failures"`
	// Rejected counts commands the state machine refused (conflict, not
	// found): committed, but no change.
	Rejected uint64 `json:"rejected"`
	// Refused counts write requests answered 4xx before anything was
	// handed to Raft: bad JSON, invalid values, oversized bodies.
	Refused uint64 `json:"refused"`
	// Unauthorized counts requests answered 401 (no or bad credentials),
	// Forbidden those answered 403 (a read-only token asking to write).
	Unauthorized uint64 `json:"unauthorized"`
	Forbidden    uint64 `json:"forbidden"`
}

// New returns the admin API for cfg. Errors: a missing Node or Store, a
// Timeout out of range, or ErrNoAuth.
func New(cfg Config) (*Server, error) {
	if cfg.Node == nil || cfg.Store == nil {
		return nil, errors.New("admin: Config.Node and Config.Store are required")
	}
	switch {
	case cfg.Timeout < 0 || cfg.Timeout > MaxTimeout:
		return nil, fmt.Errorf("admin: Config.Timeout %v is outside [0, %v]", cfg.Timeout, MaxTimeout)
	case cfg.Timeout == 0:
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Auth.Tokens == nil && !cfg.Auth.ClientCerts && !cfg.Auth.Insecure {
		return nil, ErrNoAuth
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Upstreams == nil {
		cfg.Upstreams = &route.UpstreamPolicy{}
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /v1/routes", s.listRoutes)
	m.HandleFunc("POST /v1/routes", s.createRoute)
	m.HandleFunc("GET /v1/routes/{id}", s.getRoute)
	m.HandleFunc("PUT /v1/routes/{id}", s.putRoute)
	m.HandleFunc("DELETE /v1/routes/{id}", s.deleteRoute)
	m.HandleFunc("GET /v1/groups", s.listGroups)
	m.HandleFunc("GET /v1/groups/{id}", s.getGroup)
	m.HandleFunc("PUT /v1/groups/{id}", s.putGroup)
	m.HandleFunc("DELETE /v1/groups/{id}", s.deleteGroup)
	m.HandleFunc("DELETE /v1/members/{id}", s.removeMember)
	if s.cfg.DataPlane != nil {
		m.HandleFunc("GET /v1/proxy", s.dataPlane)
		m.HandleFunc("/v1/proxy", methodNotAllowed("GET"))
	}
	m.HandleFunc("GET /status", s.status)
	m.Handle("/readyz", s.cfg.Node.ReadyHandler())
	m.Handle("/livez", s.cfg.Node.LiveHandler())
	if s.cfg.Metrics != nil {
		m.Handle("/metrics", s.cfg.Metrics)
	}
	// Method-less patterns are less specific than the ones above, so they
	// catch only the wrong methods and answer in JSON with an Allow header.
	for path, allow := range map[string]string{
		"/v1/routes": "GET, POST", "/v1/routes/{id}": "GET, PUT, DELETE",
		"/v1/groups": "GET", "/v1/groups/{id}": "GET, PUT, DELETE",
		"/v1/members/{id}": "DELETE", "/status": "GET",
	} {
		m.HandleFunc(path, methodNotAllowed(allow))
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no endpoint %s (see GET /v1/routes, /status)", r.URL.Path))
	})
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, fmt.Errorf("method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow))
	}
}

// ServeHTTP serves the API. Every response carries the security headers,
// and every authorized one X-Raft-Index; a request without the credentials Config.Auth asks
// for is answered 401 or 403 before any handler runs.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	// A refusal does not carry X-Raft-Index: an anonymous caller learns
	// nothing about the log.
	if !s.authorize(w, r) {
		return
	}
	iw := &indexWriter{ResponseWriter: w, applied: s.cfg.Node.AppliedIndex}
	s.mux.ServeHTTP(iw, r)
}

// Stats returns the write counters. It never blocks.
func (s *Server) Stats() Stats {
	return Stats{
		Applies: s.applies.Load(), ApplyFailures: s.applyFailures.Load(), Rejected: s.rejected.Load(), Refused: s.refused.Load(),
		Unauthorized: s.unauthorized.Load(), Forbidden: s.forbidden.Load(),
	}
}

// query parses the query string, refusing parameters outside allowed
// (a misspelt "wait-index" must not be silently ignored) and repeated ones.
func query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: query string: %w", ErrBadRequest, err)
	}
	for k, v := range q {
		if !slices.Contains(allowed, k) {
			return nil, fmt.Errorf("%w: unknown query parameter %q (allowed: %s)", ErrBadRequest, k, strings.Join(allowed, ", "))
		}
		if len(v) > 1 {
			return nil, fmt.Errorf("%w: query parameter %q given %d times", ErrBadRequest, k, len(v))
		}
	}
	return q, nil
}

// timeout returns the request's ?timeout, or the default.
func (s *Server) timeout(q url.Values) (time.Duration, error) {
	v := q.Get("timeout")
	if v == "" {
		return s.cfg.Timeout, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > MaxTimeout {
		return 0, fmt.Errorf("%w: timeout %q must be a duration in (0, %v], like 5s", ErrBadRequest, v, MaxTimeout)
	}
	return d, nil
}

// pathID returns the {id} path value, validated.
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if err := route.ValidateID(id); err != nil {
		return "", err
	}
	return id, nil
}
