package metrics

import (
	"bufio"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Kind is the Prometheus metric type.
type Kind string

// The metric types the registry writes.
const (
	Counter Kind = "counter"
	Gauge   Kind = "gauge"
)

// Sample is one value of a metric, with its labels written out as
// Prometheus expects them inside the braces, e.g. `code="2xx"` (empty for
// none).
type Sample struct {
	Labels string
	Value  float64
}

type family struct {
	name, help string
	kind       Kind
	read       func() []Sample
}

// Registry holds metric families and serves them. It is safe for
// concurrent use.
type Registry struct {
	mu       sync.Mutex
	families []family
}

// Add registers a metric family whose samples read returns at each scrape.
// read must be cheap and must not block. It panics on a name that is not a
// valid Prometheus metric name or is already registered: that is a
// programming error.
func (r *Registry) Add(name, help string, kind Kind, read func() []Sample) {
	if !validName(name) {
		panic(fmt.Sprintf("metrics: invalid name %q", name))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if slices.ContainsFunc(r.families, func(f family) bool { return f.name == name }) {
		panic(fmt.Sprintf("metrics: %q registered twice", name))
	}
	r.families = append(r.families, family{name: name, help: help, kind: kind, read: read})
}

// Value registers a metric with one unlabelled sample.
func (r *Registry) Value(name, help string, kind Kind, read func() float64) {
	r.Add(name, help, kind, func() []Sample { return []Sample{{Value: read()}} })
}

// ServeHTTP writes every family in the text exposition format (version
// 0.0.4), sorted by name. It answers GET and HEAD only.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.mu.Lock()
	fams := slices.Clone(r.families)
	r.mu.Unlock()
	slices.SortFunc(fams, func(a, b family) int { return strings.Compare(a.name, b.name) })
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", f.name, strings.ReplaceAll(f.help, "\n", " "), f.name, f.kind)
		for _, s := range f.read() {
			v := strconv.FormatFloat(s.Value, 'g', -1, 64)
			if s.Labels == "" {
				fmt.Fprintf(bw, "%s %s\n", f.name, v)
			} else {
				fmt.Fprintf(bw, "%s{%s} %s\n", f.name, s.Labels, v)
			}
		}
	}
	_ = bw.Flush()
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == ':':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
