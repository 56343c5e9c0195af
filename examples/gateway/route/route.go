package route

import (
	"maps"
	"slices"
)

// Limits on what one route or group may hold. They keep a single write
// small (the admin API also caps the request body at MaxBodyBytes) and the
// data plane's work per request bounded.
const (
	MaxBodyBytes  = 64 << 10 // largest admin request body
	MaxIDLen      = 128      // route and group IDs
	MaxHostLen    = 253      // a DNS name
	MaxPrefixLen  = 1024     // path_prefix
	MaxURLLen     = 2048     // one upstream URL
	MaxUpstreams  = 64       // upstreams per route or group
	MaxWeight     = 10000    // weight of one upstream
	MaxTimeoutMS  = 600000   // timeout_ms: ten minutes
	MaxRetries    = 10       // retries per request
	MaxSetHeaders = 32       // entries in set_headers
	MaxHeaderLen  = 1024     // one header value
	DefaultWeight = 1        // weight of an upstream that names none
)

// Upstream is one backend a route sends traffic to. Weight is its share of
// the route's requests relative to the other upstreams; 0 drains it (it gets
// no new requests) while keeping it listed.
type Upstream struct {
	URL    string `json:"url"`
	Weight int    `json:"weight"`
}

// Route sends requests matching Host (when set) and PathPrefix to its
// upstreams. Exactly one of Upstreams and Group is set: a route either lists
// its own upstreams or uses a named Group's.
//
// Matching: a route with a Host matches only requests for that host (the
// port is ignored); a route without one matches any host, but a route for
// the request's host always wins over a host-less one. Among the candidates
// the longest PathPrefix that matches wins. A prefix matches whole path
// segments: "/api" matches "/api" and "/api/users" but not "/apis".
type Route struct {
	Host       string     `json:"host"`
	PathPrefix string     `json:"path_prefix"`
	Upstreams  []Upstream `json:"upstreams,omitempty"`
	Group      string     `json:"group,omitempty"`
	// TimeoutMS bounds the whole proxied exchange, retries included;
	// 0 means no bound beyond the client's own.
	TimeoutMS int `json:"timeout_ms"`
	// Retries is how many more upstreams a request without a body is
	// tried on after a connection to an upstream could not be made, and,
	// for GET, HEAD, OPTIONS and TRACE only, after a 502, 503 or 504
	// answer or a broken connection. Other methods are never sent to a
	// second upstream once one has received them.
	Retries int `json:"retries"`
	// StripPrefix removes PathPrefix from the path before forwarding.
	StripPrefix bool `json:"strip_prefix"`
	// SetHeaders are set (replacing any value) on every forwarded request.
	SetHeaders map[string]string `json:"set_headers"`
}

// Group is a named set of upstreams that routes can share: changing the
// group changes every route that uses it.
type Group struct {
	Upstreams []Upstream `json:"upstreams"`
}

// Clone returns a deep copy of r.
func (r Route) Clone() Route {
	r.Upstreams = slices.Clone(r.Upstreams)
	r.SetHeaders = maps.Clone(r.SetHeaders)
	return r
}

// Clone returns a deep copy of g.
func (g Group) Clone() Group {
	g.Upstreams = slices.Clone(g.Upstreams)
	return g
}

// Resolved is a route as the data plane needs it: its upstreams filled in
// from its group when it uses one, and the index of the last change that
// affected it (to the route itself or to its group).
type Resolved struct {
	ID      string
	Route   Route
	Version uint64
}
