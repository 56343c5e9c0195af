package route

import (
	"maps"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
)

// ValidateID checks a route or group ID: 1 to MaxIDLen characters of
// letters, digits, '.', '_' and '-', starting with a letter or digit. It
// returns a *ValidationError for field "id".
func ValidateID(id string) error {
	if id == "" {
		return invalid("id", "must not be empty")
	}
	if len(id) > MaxIDLen {
		return invalid("id", "longer than %d characters", MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return invalid("id", "%q: only letters, digits, '.', '_' and '-' are allowed, starting with a letter or digit", id)
		}
	}
	return nil
}

// Validate checks a route that has been through Normalize. It returns nil
// or a *ValidationError naming the first bad field. It does not check that
// a named Group exists: that depends on the state, and the state machine
// checks it when it applies the route.
func (r *Route) Validate() error {
	if err := validateHost(r.Host); err != nil {
		return err
	}
	if err := validatePrefix(r.PathPrefix); err != nil {
		return err
	}
	switch {
	case r.Group != "" && len(r.Upstreams) > 0:
		return invalid("group", "set either upstreams or group, not both")
	case r.Group != "":
		if err := ValidateID(r.Group); err != nil {
			return invalid("group", "%s", err.(*ValidationError).Reason)
		}
	default:
		if err := validateUpstreams("upstreams", r.Upstreams); err != nil {
			return err
		}
	}
	if r.TimeoutMS < 0 || r.TimeoutMS > MaxTimeoutMS {
		return invalid("timeout_ms", "%d is out of range [0, %d]", r.TimeoutMS, MaxTimeoutMS)
	}
	if r.Retries < 0 || r.Retries > MaxRetries {
		return invalid("retries", "%d is out of range [0, %d]", r.Retries, MaxRetries)
	}
	return validateHeaders(r.SetHeaders)
}

// Validate checks a group that has been through Normalize.
func (g *Group) Validate() error {
	return validateUpstreams("upstreams", g.Upstreams)
}

// Normalize puts a route in its canonical form: host lower-cased with any
// trailing dot removed, an empty path prefix made "/", header names in
// canonical form, and empty collections made nil. Call it before Validate;
// DecodeRoute does both.
func (r *Route) Normalize() {
	r.Host = strings.TrimSuffix(strings.ToLower(r.Host), ".")
	if r.PathPrefix == "" {
		r.PathPrefix = "/"
	}
	if len(r.Upstreams) == 0 {
		r.Upstreams = nil
	}
	if len(r.SetHeaders) == 0 {
		r.SetHeaders = nil
		return
	}
	h := make(map[string]string, len(r.SetHeaders))
	for k, v := range r.SetHeaders {
		h[http.CanonicalHeaderKey(k)] = v
	}
	// Two spellings of one header ("x-a" and "X-A") would collapse into
	// one, keeping whichever came last in map order. Leave the map as sent
	// so that Validate reports the duplicate instead.
	if len(h) == len(r.SetHeaders) {
		r.SetHeaders = h
	}
}

func validateHost(h string) error {
	if h == "" {
		return nil
	}
	if len(h) > MaxHostLen {
		return invalid("host", "longer than %d characters", MaxHostLen)
	}
	if strings.Contains(h, ":") {
		if _, _, err := net.SplitHostPort(h); err == nil {
			return invalid("host", "%q: give the host without a port (requests match on any port)", h)
		}
		return invalid("host", "%q is not a host name", h)
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return invalid("host", "%q is not a valid host name", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return invalid("host", "%q is not a valid host name", h)
			}
		}
	}
	return nil
}

func validatePrefix(p string) error {
	switch {
	case len(p) > MaxPrefixLen:
		return invalid("path_prefix", "longer than %d characters", MaxPrefixLen)
	case !strings.HasPrefix(p, "/"):
		return invalid("path_prefix", "%q must start with '/'", p)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c == 0x7f || c == '?' || c == '#' || c == '%' {
			return invalid("path_prefix", "%q: control characters, spaces, '?', '#' and '%%' are not allowed", p)
		}
	}
	trimmed := p
	if len(p) > 1 {
		trimmed = strings.TrimSuffix(p, "/")
	}
	if path.Clean(trimmed) != trimmed {
		return invalid("path_prefix", "%q is not a clean path (no '//', '.' or '..' segments)", p)
	}
	return nil
}

func validateUpstreams(field string, ups []Upstream) error {
	if len(ups) == 0 {
		return invalid(field, "at least one upstream is required")
	}
	if len(ups) > MaxUpstreams {
		return invalid(field, "%d upstreams, at most %d allowed", len(ups), MaxUpstreams)
	}
	seen := make(map[string]bool, len(ups))
	total := 0
	for i, u := range ups {
		f := field + "[" + strconv.Itoa(i) + "]"
		if err := ValidateUpstreamURL(u.URL); err != nil {
			return invalid(f+".url", "%s", err.(*ValidationError).Reason)
		}
		if seen[u.URL] {
			return invalid(f+".url", "%q is listed twice", u.URL)
		}
		seen[u.URL] = true
		if u.Weight < 0 || u.Weight > MaxWeight {
			return invalid(f+".weight", "%d is out of range [0, %d]", u.Weight, MaxWeight)
		}
		total += u.Weight
	}
	if total == 0 {
		return invalid(field, "every weight is 0: at least one upstream must take traffic")
	}
	return nil
}

// ValidateUpstreamURL checks one upstream URL: absolute http or https with
// a host, an optional port and base path, and no user info, query or
// fragment.
func ValidateUpstreamURL(s string) error {
	if s == "" {
		return invalid("url", "must not be empty")
	}
	if len(s) > MaxURLLen {
		return invalid("url", "longer than %d characters", MaxURLLen)
	}
	u, err := url.Parse(s)
	if err != nil {
		return invalid("url", "%q does not parse: %v", s, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return invalid("url", "%q: scheme must be http or https", s)
	case u.Host == "" || u.Hostname() == "":
		return invalid("url", "%q has no host", s)
	case u.User != nil:
		return invalid("url", "%q: user info is not allowed", s)
	case u.RawQuery != "" || u.ForceQuery:
		return invalid("url", "%q: a query is not allowed", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return invalid("url", "%q: a fragment is not allowed", s)
	case u.Opaque != "":
		return invalid("url", "%q is not a hierarchical URL", s)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return invalid("url", "%q: port out of range", s)
		}
	}
	return nil
}

// hopHeaders may not be set by a route: they describe one connection, or
// the proxy sets them itself.
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Proxy-Connection": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Host": true, "Content-Length": true,
}

func validateHeaders(h map[string]string) error {
	if len(h) > MaxSetHeaders {
		return invalid("set_headers", "%d headers, at most %d allowed", len(h), MaxSetHeaders)
	}
	canon := make(map[string]string, len(h))
	for k := range h {
		c := http.CanonicalHeaderKey(k)
		if other, dup := canon[c]; dup {
			return invalid("set_headers", "%q and %q name the same header", min(k, other), max(k, other))
		}
		canon[c] = k
	}
	for _, k := range slices.Sorted(maps.Keys(h)) {
		v := h[k]
		f := "set_headers." + k
		if !validHeaderName(k) {
			return invalid("set_headers", "%q is not a valid header name", k)
		}
		if c := http.CanonicalHeaderKey(k); c != k {
			return invalid("set_headers", "%q is not in canonical form %q (call Normalize)", k, c)
		}
		if hopHeaders[k] {
			return invalid(f, "%s cannot be set by a route", k)
		}
		if len(v) > MaxHeaderLen {
			return invalid(f, "value longer than %d bytes", MaxHeaderLen)
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
				return invalid(f, "value contains a control character")
			}
		}
	}
	return nil
}

// validHeaderName reports whether k is an RFC 9110 token.
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
