package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
)

// attempt carries one try of a request through the ReverseProxy hooks.
type attempt struct {
	route  *compiled
	target *target
	// retry: a failure may be retried, so the hooks record it instead of
	// answering the client.
	retry bool
	// idempotent: the method may be sent twice (see idempotent). Other
	// requests are retried only when nothing was sent.
	idempotent bool
	err        error
}

// idempotent reports whether a request may be sent to a second upstream
// after the first one received it and answered 502, 503 or 504, or broke
// off: only the safe methods of RFC 9110 section 9.2.1, the set net/http's
// Transport itself replays. PUT and DELETE are idempotent in the RFC, but
// a gateway cannot know that the application behind it honours that (a
// DELETE of "the next job" is not), so they are treated like POST and
// PATCH.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// notSent reports whether err means the request never left the proxy:
// the connection to the upstream could not be made (refused, unreachable,
// or refused by the upstream address policy). Any request may then go to
// another upstream.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

type attemptKey struct{}

func attemptOf(ctx context.Context) *attempt {
	a, _ := ctx.Value(attemptKey{}).(*attempt)
	return a
}

// errRetryStatus marks an upstream answer that is worth retrying elsewhere.
type errRetryStatus struct{ code int }

func (e errRetryStatus) Error() string { return fmt.Sprintf("upstream answered %d", e.code) }

// ServeHTTP routes the request by the local table and forwards it. It
// answers 404 when no route matches and 503 before the table is built; an
// upstream failure is 502, a route timeout 504.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	defer func() { p.byClass[min(sw.code/100, 5)].Add(1) }()
	ix := p.table.Load()
	if ix == nil {
		writeError(sw, http.StatusServiceUnavailable, "the gateway's route table is not built yet")
		return
	}
	c := ix.lookup(requestHost(r.Host), r.URL.Path)
	if c == nil {
		p.noRoute.Add(1)
		writeError(sw, http.StatusNotFound, fmt.Sprintf("no route for host %q, path %q", requestHost(r.Host), r.URL.Path))
		return
	}
	ctx := r.Context()
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	// Only a request without a body can be sent again: the body of the
	// first try has been consumed.
	replayable := r.Body == nil || r.Body == http.NoBody
	idem := idempotent(r.Method)
	t := c.pick()
	var tried map[*target]bool
	for n := 0; ; n++ {
		a := &attempt{route: c, target: t, idempotent: idem}
		if replayable && n < c.retries {
			if tried == nil {
				tried = make(map[*target]bool, len(c.targets))
			}
			tried[t] = true
			// A retry needs an untried upstream to go to.
			a.retry = c.next(t, tried) != nil
		}
		p.rp.ServeHTTP(sw, r.WithContext(context.WithValue(ctx, attemptKey{}, a)))
		if a.err == nil {
			return
		}
		p.retries.Add(1)
		p.log.Debug("retrying on another upstream", "route", c.id, "upstream", a.target.raw, "error", a.err)
		t = c.next(t, tried)
	}
}

func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	a := attemptOf(pr.In.Context())
	if path := a.route.rewritePath(pr.In.URL.Path); path != pr.In.URL.Path {
		pr.Out.URL.Path, pr.Out.URL.RawPath = path, ""
	}
	pr.SetURL(a.target.url)
	pr.SetXForwarded()
	for k, v := range a.route.headers {
		pr.Out.Header[k] = append([]string(nil), v...)
	}
}

func (p *Proxy) modifyResponse(resp *http.Response) error {
	a := attemptOf(resp.Request.Context())
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		// The upstream received the request: only an idempotent one
		// may be sent again.
		if a != nil && a.retry && a.idempotent {
			return errRetryStatus{resp.StatusCode}
		}
	}
	return nil
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	a := attemptOf(r.Context())
	p.upstreamErrors.Add(1)
	if a != nil && a.retry && r.Context().Err() == nil && (a.idempotent || notSent(err)) {
		a.err = err // ServeHTTP tries the next upstream
		return
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		p.timeouts.Add(1)
		writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("route %q: upstream did not answer within %v", a.route.id, a.route.timeout))
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this answer.
		w.WriteHeader(http.StatusBadGateway)
	default:
		p.log.Warn("upstream failed", "route", a.route.id, "upstream", a.target.raw, "error", err)
		writeError(w, http.StatusBadGateway, fmt.Sprintf("route %q: upstream %s failed: %v", a.route.id, a.target.raw, err))
	}
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// statusWriter records the status code for the metrics. Unwrap lets
// http.ResponseController (which ReverseProxy uses to flush and hijack)
// reach the underlying writer.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 && code >= 200 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
