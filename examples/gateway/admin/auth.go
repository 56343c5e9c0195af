package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrNoAuth is returned by New for a Config whose Auth authenticates
// nobody and is not explicitly Insecure.
var ErrNoAuth = errors.New("admin: no authentication configured (set Auth.Tokens or Auth.ClientCerts, or Auth.Insecure on purpose)")

// Auth says who may call the admin API. New refuses an Auth that
// authenticates nobody (no Tokens, no ClientCerts) unless Insecure is set.
//
// /readyz and /livez are always open: load balancers and orchestrators
// probe them without credentials, and they reveal no configuration.
// Every other endpoint, /status and /metrics included, needs credentials:
// a token of any role for GET, a write token for anything else.
type Auth struct {
	// Tokens, when set, are the bearer tokens accepted in the
	// Authorization header ("Authorization: Bearer TOKEN").
	Tokens *Tokens
	// ClientCerts means the listener requires and verifies client
	// certificates (tls.RequireAndVerifyClientCert against the admin CA):
	// a request that arrived over TLS with a verified chain is
	// authenticated, with RoleWrite unless Tokens is also set, in which
	// case the request needs a token too, and the token's role applies.
	ClientCerts bool
	// Insecure serves every request without authentication. For a
	// development node on loopback only; the gateway refuses it on any
	// other address.
	Insecure bool
}

// challenge is the WWW-Authenticate value of a 401 when tokens are in use.
const challenge = `Bearer realm="gateway-admin"`

// securityHeaders go on every admin response: the API answers JSON (and
// Prometheus text) to programs, never pages to a browser, so a browser is
// told not to sniff, cache, frame or run any of it.
func securityHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
}

// isProbe reports whether a path is served without credentials: the probes.
func isProbe(path string) bool { return path == "/readyz" || path == "/livez" }

// authorize decides whether r may proceed, and answers it itself (401 or
// 403 with a JSON error) when not. A GET or HEAD needs RoleRead, anything
// else RoleWrite.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	a := s.cfg.Auth
	if a.Insecure || isProbe(r.URL.Path) {
		return true
	}
	if a.ClientCerts && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
		s.deny(w, r, http.StatusUnauthorized, "", "a verified client certificate is required")
		return false
	}
	role := RoleWrite // a verified certificate alone
	if a.Tokens != nil {
		tok, ok := bearer(r.Header.Values("Authorization"))
		if !ok {
			s.deny(w, r, http.StatusUnauthorized, challenge, `a bearer token is required ("Authorization: Bearer TOKEN")`)
			return false
		}
		if role = a.Tokens.Match(tok); role == 0 {
			s.deny(w, r, http.StatusUnauthorized, challenge+`, error="invalid_token"`, "the bearer token is not valid")
			return false
		}
	}
	need := RoleWrite
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		need = RoleRead
	}
	if role < need {
		s.deny(w, r, http.StatusForbidden, challenge+`, error="insufficient_scope"`, fmt.Sprintf("a %s token may not %s %s", role, r.Method, r.URL.Path))
		return false
	}
	return true
}

// bearer extracts the token of a single "Authorization: Bearer TOKEN"
// header (the scheme is case-insensitive, RFC 9110 section 11.1).
func bearer(values []string) (string, bool) {
	if len(values) != 1 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(values[0], " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

// deny answers a refused request and logs it, at most once a second (a
// flood of bad requests must not flood the log), never with its
// credentials: only the method, the path, the peer and why.
func (s *Server) deny(w http.ResponseWriter, r *http.Request, code int, challenge, why string) {
	if code == http.StatusUnauthorized {
		s.unauthorized.Add(1)
	} else {
		s.forbidden.Add(1)
	}
	if challenge != "" {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	writeError(w, code, errors.New(why))
	s.denyLog.Lock()
	now := time.Now()
	if now.Sub(s.denyLast) < time.Second {
		s.denySuppressed++
		s.denyLog.Unlock()
		return
	}
	suppressed := s.denySuppressed
	s.denyLast, s.denySuppressed = now, 0
	s.denyLog.Unlock()
	path := r.URL.Path
	if len(path) > 200 {
		path = path[:200] + "..."
	}
	s.cfg.Logger.Warn("admin request refused", "status", code, "method", r.Method, "path", path,
		"remote", r.RemoteAddr, "reason", why, "suppressed_since_last", suppressed)
}
