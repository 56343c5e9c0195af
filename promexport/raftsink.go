package promexport

import (
	"slices"
	"strings"
	"sync"
	"time"

	metrics "github.com/hashicorp/go-metrics/compat"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/raftkit/raftkit/raftsync"
)

// RaftSink is a go-metrics sink that keeps what raft reports so that a
// collector can publish it: gauges keep their last value, counters and
// samples accumulate (a sample becomes a summary's count and sum). It
// implements the MetricSink of github.com/hashicorp/go-metrics/compat, the
// package raft reports through, so it receives raft's metrics whichever
// go-metrics module that package resolves to (armon/go-metrics by default,
// hashicorp/go-metrics with the hashicorpmetrics build tag).
//
// Its memory grows with the number of distinct keys and label sets raft
// reports, which is bounded by raft's metric names times the number of
// peers. A RaftSink is safe for concurrent use.
type RaftSink struct {
	mu     sync.Mutex
	series map[string]*raftSeries // by flattened name and label values
}

type raftSeries struct {
	name   string
	kind   kind
	labels []metrics.Label // sorted by name
	value  float64         // gauge value or counter total
	count  uint64          // samples
	sum    float64
}

var _ metrics.MetricSink = (*RaftSink)(nil)

// NewRaftSink returns an empty sink. To feed it alongside another sink,
// pass both in a go-metrics FanoutSink to go-metrics' NewGlobal.
func NewRaftSink() *RaftSink { return &RaftSink{series: map[string]*raftSeries{}} }

var (
	globalOnce sync.Once
	globalSink *RaftSink
	globalErr  error
)

// InstallRaftSink makes a process-wide RaftSink the global go-metrics sink,
// which raft reports to, and returns it. It runs once per process; later
// calls return the same sink. It replaces any global sink set before; a
// program that has its own go-metrics sink should instead fan out to it
// and a NewRaftSink, and pass that to Register with WithRaftSink.
//
// The global configuration adds no host name or service prefix and starts
// no runtime-metrics goroutine.
func InstallRaftSink() (*RaftSink, error) {
	globalOnce.Do(func() {
		globalSink = NewRaftSink()
		conf := metrics.DefaultConfig("")
		conf.HostName = ""
		conf.EnableHostname = false
		conf.EnableHostnameLabel = false
		conf.EnableRuntimeMetrics = false
		conf.EnableTypePrefix = false
		conf.TimerGranularity = time.Millisecond
		_, globalErr = metrics.NewGlobal(conf, globalSink)
	})
	return globalSink, globalErr
}

// SetGauge implements MetricSink.
func (s *RaftSink) SetGauge(key []string, val float32) { s.SetGaugeWithLabels(key, val, nil) }

// SetGaugeWithLabels implements MetricSink.
func (s *RaftSink) SetGaugeWithLabels(key []string, val float32, labels []metrics.Label) {
	s.update(key, labels, gauge, func(r *raftSeries) { r.value = float64(val) })
}

// EmitKey implements MetricSink; raft does not use it, and it is kept as a
// gauge.
func (s *RaftSink) EmitKey(key []string, val float32) { s.SetGauge(key, val) }

// IncrCounter implements MetricSink.
func (s *RaftSink) IncrCounter(key []string, val float32) { s.IncrCounterWithLabels(key, val, nil) }

// IncrCounterWithLabels implements MetricSink.
func (s *RaftSink) IncrCounterWithLabels(key []string, val float32, labels []metrics.Label) {
	s.update(key, labels, counter, func(r *raftSeries) { r.value += float64(val) })
}

// AddSample implements MetricSink.
func (s *RaftSink) AddSample(key []string, val float32) { s.AddSampleWithLabels(key, val, nil) }

// AddSampleWithLabels implements MetricSink.
func (s *RaftSink) AddSampleWithLabels(key []string, val float32, labels []metrics.Label) {
	s.update(key, labels, summary, func(r *raftSeries) {
		r.count++
		r.sum += float64(val)
	})
}

// raftPrefix starts the name of every series from raft's go-metrics keys.
const raftPrefix = "raftkit_"

func (s *RaftSink) update(key []string, labels []metrics.Label, k kind, f func(*raftSeries)) {
	name := raftPrefix + sanitize(strings.Join(key, "_"))
	ls := make([]metrics.Label, 0, len(labels))
	for _, l := range labels {
		n := sanitize(l.Name)
		if n == "node_id" || n == "cluster_id" {
			n = "raft_" + n // ours label every series
		}
		ls = append(ls, metrics.Label{Name: n, Value: l.Value})
	}
	slices.SortFunc(ls, func(a, b metrics.Label) int { return strings.Compare(a.Name, b.Name) })
	var id strings.Builder
	id.WriteString(name)
	for _, l := range ls {
		id.WriteString("\xff" + l.Name + "\xfe" + l.Value)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.series[id.String()]
	if r == nil {
		r = &raftSeries{name: name, kind: k, labels: ls}
		s.series[id.String()] = r
	}
	if r.kind != k {
		return // a key reported as two types: keep the first
	}
	f(r)
}

// sanitize maps s to a valid Prometheus metric or label name: characters
// other than letters, digits and '_' become '_'.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' && i > 0
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

// raftCollector publishes a RaftSink's series with a node's labels.
type raftCollector struct {
	sink *RaftSink
	node func() (id, cluster string)
	info *prometheus.Desc
}

// bridgeInfoName is the marker family of the raft bridge: it gives the
// collector a fixed description, so a registry accepts only one.
const bridgeInfoName = "raftkit_raft_bridge_info"

func newRaftCollector(sink *RaftSink, node func() (id, cluster string)) *raftCollector {
	return &raftCollector{sink: sink, node: node,
		info: prometheus.NewDesc(bridgeInfoName,
			"Always 1: raft's own metrics (raftkit_raft_*) in this registry are labelled with this node; raft reports them process-wide.",
			[]string{"node_id", "cluster_id"}, nil)}
}

// NewRaftCollector returns a collector of the raft metrics sink holds,
// labelled with node's ID and cluster ID. raft reports its metrics per
// process, not per node: in a process with several nodes, the series mix
// all of them. At most one such collector fits in a registry.
func NewRaftCollector(sink *RaftSink, node *raftsync.Node) prometheus.Collector {
	return newRaftCollector(sink, func() (string, string) { return node.ID(), node.ClusterID() })
}

// Describe implements prometheus.Collector. Only the marker family is
// described; raft's own families are known only once raft reports them.
func (c *raftCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.info }

// Collect implements prometheus.Collector.
func (c *raftCollector) Collect(ch chan<- prometheus.Metric) {
	id, cluster := c.node()
	ch <- constMetric(c.info, prometheus.GaugeValue, 1, id, cluster)

	c.sink.mu.Lock()
	all := make([]raftSeries, 0, len(c.sink.series))
	for _, r := range c.sink.series {
		all = append(all, *r)
	}
	c.sink.mu.Unlock()

	// A family must have one set of label names: use the union over its
	// series, with "" where a series lacks one.
	names := map[string][]string{}
	kinds := map[string]kind{}
	for _, r := range all {
		if k, ok := kinds[r.name]; ok && k != r.kind {
			continue
		}
		kinds[r.name] = r.kind
		for _, l := range r.labels {
			if !slices.Contains(names[r.name], l.Name) {
				names[r.name] = append(names[r.name], l.Name)
			}
		}
	}
	for _, ls := range names {
		slices.Sort(ls)
	}
	descs := map[string]*prometheus.Desc{}
	for _, r := range all {
		if kinds[r.name] != r.kind {
			continue
		}
		ls := names[r.name]
		d := descs[r.name]
		if d == nil {
			d = prometheus.NewDesc(r.name, raftHelp(r.name[len(raftPrefix):], r.kind),
				append([]string{"node_id", "cluster_id"}, ls...), nil)
			descs[r.name] = d
		}
		lv := []string{id, cluster}
		for _, n := range ls {
			v := ""
			for _, l := range r.labels {
				if l.Name == n {
					v = l.Value
				}
			}
			lv = append(lv, v)
		}
		var m prometheus.Metric
		var err error
		switch r.kind {
		case summary:
			m, err = prometheus.NewConstSummary(d, r.count, r.sum, nil, lv...)
		case counter:
			m, err = prometheus.NewConstMetric(d, prometheus.CounterValue, r.value, lv...)
		default:
			m, err = prometheus.NewConstMetric(d, prometheus.GaugeValue, r.value, lv...)
		}
		if err != nil {
			m = prometheus.NewInvalidMetric(d, err)
		}
		ch <- m
	}
}

// raftHelp is the help text of a family bridged from raft's key.
func raftHelp(key string, k kind) string {
	switch k {
	case summary:
		return "raft's go-metrics samples of " + key + ": count and sum (raft measures durations in milliseconds)."
	case counter:
		return "raft's go-metrics counter " + key + "."
	default:
		return "raft's go-metrics gauge " + key + " (its last value)."
	}
}
