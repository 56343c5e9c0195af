package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/raftkit/raftkit/examples/gateway/route"
)

// compiled is a route ready to serve: parsed URLs and a balancer. It is
// immutable once built, except for the balancer's own rotation state.
type compiled struct {
	id          string
	host        string
	prefix      string
	version     uint64
	targets     []*target
	timeout     time.Duration
	retries     int
	stripPrefix bool
	headers     http.Header

	mu      sync.Mutex // guards current
	current []int      // smooth weighted round robin state, per target
	total   int        // sum of weights
}

type target struct {
	raw    string
	url    *url.URL
	weight int
}

func compile(r route.Resolved) (*compiled, error) {
	c := &compiled{
		id:          r.ID,
		host:        r.Route.Host,
		prefix:      r.Route.PathPrefix,
		version:     r.Version,
		timeout:     time.Duration(r.Route.TimeoutMS) * time.Millisecond,
		retries:     r.Route.Retries,
		stripPrefix: r.Route.StripPrefix,
	}
	for _, u := range r.Route.Upstreams {
		pu, err := url.Parse(u.URL)
		if err != nil {
			return nil, fmt.Errorf("route %q: upstream %q: %w", r.ID, u.URL, err)
		}
		c.targets = append(c.targets, &target{raw: u.URL, url: pu, weight: u.Weight})
		c.total += u.Weight
	}
	if c.total <= 0 {
		return nil, fmt.Errorf("route %q: no upstream with a positive weight", r.ID)
	}
	c.current = make([]int, len(c.targets))
	if len(r.Route.SetHeaders) > 0 {
		c.headers = make(http.Header, len(r.Route.SetHeaders))
		for k, v := range r.Route.SetHeaders {
			c.headers.Set(k, v)
		}
	}
	return c, nil
}

// prefixMatches reports whether path falls under prefix on a segment
// boundary: "/api" matches "/api" and "/api/x" but not "/apis"; a prefix
// ending in '/' matches everything below it.
func prefixMatches(prefix, path string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || strings.HasSuffix(prefix, "/") || path[len(prefix)] == '/'
}

// pick chooses the target of a request's first attempt by smooth weighted
// round robin (the nginx algorithm): over any run of total picks each
// target is chosen exactly weight times, interleaved rather than in blocks.
func (c *compiled) pick() *target {
	c.mu.Lock()
	defer c.mu.Unlock()
	best := -1
	for i, t := range c.targets {
		if t.weight == 0 {
			continue
		}
		c.current[i] += t.weight
		if best < 0 || c.current[i] > c.current[best] {
			best = i
		}
	}
	c.current[best] -= c.total
	return c.targets[best]
}

// next chooses the target of a retry: the first target after last, in the
// route's order, that takes traffic and has not been tried, or nil when
// none is left. Retries leave the round robin alone, so one dead upstream
// does not skew the others' shares.
func (c *compiled) next(last *target, tried map[*target]bool) *target {
	at := 0
	for i, t := range c.targets {
		if t == last {
			at = i
		}
	}
	for k := 1; k <= len(c.targets); k++ {
		t := c.targets[(at+k)%len(c.targets)]
		if t.weight > 0 && !tried[t] {
			return t
		}
	}
	return nil
}

// rewritePath returns the path to forward: with StripPrefix the prefix is
// cut, keeping a leading slash.
func (c *compiled) rewritePath(path string) string {
	if !c.stripPrefix || c.prefix == "/" {
		return path
	}
	rest := strings.TrimPrefix(path, strings.TrimSuffix(c.prefix, "/"))
	if !strings.HasPrefix(rest, "/") {
		rest = "/" + rest
	}
	return rest
}
