package promexport

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
)

// kind is a metric's Prometheus type.
type kind int

const (
	counter kind = iota
	gauge
	summary
)

func (k kind) String() string {
	return [...]string{"counter", "gauge", "summary"}[k]
}

// spec describes one metric family the collector emits. Exactly one of
// value and timing is set: value emits counters and gauges (one call per
// series, with the values of labels), timing a summary's count and sum.
type spec struct {
	name   string
	kind   kind
	labels []string // besides node_id and cluster_id
	help   string
	value  func(m *raftsync.Metrics, emit func(v float64, labelValues ...string))
	timing func(m *raftsync.Metrics) (count uint64, sum float64)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// one emits a single unlabelled value.
func one(f func(m *raftsync.Metrics) float64) func(*raftsync.Metrics, func(float64, ...string)) {
	return func(m *raftsync.Metrics, emit func(float64, ...string)) { emit(f(m)) }
}

// readLevels are the levels that go through the leader (Strong, Lease);
// Stale reads never leave the node.
var readLevels = []consistency.Level{consistency.Strong, consistency.Lease}

// coreSpecs are the families before the timed operations.
var coreSpecs = []spec{
	{name: "raftkit_readiness_state", kind: gauge, labels: []string{"state"},
		help: "1 for the node's current readiness state, 0 for every other state.",
		value: func(m *raftsync.Metrics, emit func(float64, ...string)) {
			for s := readiness.Starting; s <= readiness.Removed; s++ {
				emit(b2f(s == m.Readiness), s.String())
			}
		}},
	{name: "raftkit_readiness_transitions_total", kind: counter, labels: []string{"state"},
		help: "Times the node entered each readiness state since it opened.",
		value: func(m *raftsync.Metrics, emit func(float64, ...string)) {
			for s := readiness.Starting; s <= readiness.Removed; s++ {
				emit(float64(m.Transitions[s]), s.String())
			}
		}},
	{name: "raftkit_time_to_ready_seconds", kind: gauge,
		help:  "Seconds from Open to the node's first Ready; 0 until then.",
		value: one(func(m *raftsync.Metrics) float64 { return m.TimeToReady.Seconds() })},
	{name: "raftkit_is_leader", kind: gauge,
		help:  "1 while raft's role on this node is Leader.",
		value: one(func(m *raftsync.Metrics) float64 { return b2f(m.IsLeader) })},
	{name: "raftkit_term", kind: gauge,
		help:  "Raft's current term on this node.",
		value: one(func(m *raftsync.Metrics) float64 { return float64(m.Term) })},
	{name: "raftkit_applied_index", kind: gauge,
		help:  "The highest log index the application's FSM has finished applying.",
		value: one(func(m *raftsync.Metrics) float64 { return float64(m.AppliedIndex) })},
	{name: "raftkit_persisted_index", kind: gauge,
		help:  "The durably recorded applied index the node recovers to after a restart.",
		value: one(func(m *raftsync.Metrics) float64 { return float64(m.PersistedIndex) })},
	{name: "raftkit_commit_index", kind: gauge,
		help:  "The highest log index this node knows committed.",
		value: one(func(m *raftsync.Metrics) float64 { return float64(m.CommitIndex) })},
	{name: "raftkit_last_index", kind: gauge,
		help:  "The last index in this node's log.",
		value: one(func(m *raftsync.Metrics) float64 { return float64(m.LastIndex) })},
	{name: "raftkit_apply_lag_entries", kind: gauge,
		help:  "Commit index minus applied index: entries committed but not yet applied here.",
		value: one(func(m *raftsync.Metrics) float64 { return float64(m.ApplyLag) })},
	{name: "raftkit_persist_lag_entries", kind: gauge,
		help:  "Applied index minus persisted index: entries a crash now would re-apply from the log.",
		value: one(func(m *raftsync.Metrics) float64 { return float64(m.PersistLag) })},
	{name: "raftkit_last_contact_seconds", kind: gauge,
		help:  "Seconds since this follower last heard from the leader; 0 on the leader and before any contact.",
		value: one(func(m *raftsync.Metrics) float64 { return m.LastContact.Seconds() })},
	{name: "raftkit_reads_total", kind: counter, labels: []string{"level"},
		help: "ReadIndex calls (Read included) by consistency level.",
		value: func(m *raftsync.Metrics, emit func(float64, ...string)) {
			for _, l := range consistency.Levels() {
				emit(float64(m.Reads[l]), l.String())
			}
		}},
	{name: "raftkit_read_errors_total", kind: counter, labels: []string{"level"},
		help: "ReadIndex calls that returned an error, by consistency level.",
		value: func(m *raftsync.Metrics, emit func(float64, ...string)) {
			for _, l := range consistency.Levels() {
				emit(float64(m.ReadErrors[l]), l.String())
			}
		}},
	{name: "raftkit_read_lease_total", kind: counter, labels: []string{"level", "result"},
		help: "Reads on the leader served from a valid lease (hit) or needing a quorum round (miss), by level.",
		value: func(m *raftsync.Metrics, emit func(float64, ...string)) {
			l := consistency.Lease
			emit(float64(m.LeaseHits[l]), l.String(), "hit")
			emit(float64(m.LeaseMisses[l]), l.String(), "miss")
		}},
	{name: "raftkit_read_rounds_total", kind: counter, labels: []string{"result"},
		help: "Quorum rounds the leader ran to confirm its leadership for reads (one serves a batch), by result; vouched: a follower's Strong read answered without one.",
		value: func(m *raftsync.Metrics, emit func(float64, ...string)) {
			emit(float64(m.RoundsConfirmed), "confirmed")
			emit(float64(m.RoundsFailed), "failed")
			emit(float64(m.RoundsVouched), "vouched")
		}},
	{name: "raftkit_read_forwarded_total", kind: counter, labels: []string{"level", "result"},
		help: "Read index requests this follower sent to the leader (one serves a batch), by level and result.",
		value: func(m *raftsync.Metrics, emit func(float64, ...string)) {
			for _, l := range readLevels {
				emit(float64(m.ForwardedReads[l]-m.ForwardedReadErrors[l]), l.String(), "ok")
				emit(float64(m.ForwardedReadErrors[l]), l.String(), "error")
			}
		}},
	{name: "raftkit_writes_forwarded_total", kind: counter, labels: []string{"outcome"},
		help: "Apply calls this node forwarded to the leader, by outcome (applied, fsm_error, not_sent, refused, indeterminate).",
		value: func(m *raftsync.Metrics, emit func(float64, ...string)) {
			for _, o := range raftsync.WriteOutcomes() {
				emit(float64(m.ForwardedWrites[o]), o.String())
			}
		}},
}

// specs lists every metric family of a node, in the order of docs/metrics.md.
var specs = slices.Concat(
	coreSpecs,
	timingSpecs("raftkit_snapshot_persist", "snapshots written to the local snapshot store",
		func(m *raftsync.Metrics) raftsync.Timing { return m.SnapshotPersist }),
	timingSpecs("raftkit_snapshot_restore", "snapshots restored into the application (sent by the leader, or a restored backup)",
		func(m *raftsync.Metrics) raftsync.Timing { return m.SnapshotRestore }),
	timingSpecs("raftkit_backup", "backups written by Node.Backup",
		func(m *raftsync.Metrics) raftsync.Timing { return m.Backup }),
	timingSpecs("raftkit_backup_restore", "backups restored by Node.Restore on the leader",
		func(m *raftsync.Metrics) raftsync.Timing { return m.BackupRestore }),
	connAndAutopilotSpecs,
)

var connAndAutopilotSpecs = []spec{
	{name: "raftkit_connections_rejected_total", kind: counter, labels: []string{"reason"},
		help: "Incoming connections the node's listener closed before raft or the RPC server saw them, by reason.",
		value: func(m *raftsync.Metrics, emit func(float64, ...string)) {
			for r := range raftsync.RejectReason(raftsync.NumRejectReasons) {
				emit(float64(m.Rejected[r]), r.String())
			}
		}},
	{name: "raftkit_autopilot_healthy", kind: gauge,
		help: "On the leader: 1 when every member passed autopilot's last health check. Absent elsewhere and before the first check.",
		value: func(m *raftsync.Metrics, emit func(float64, ...string)) {
			if m.AutopilotKnown {
				emit(b2f(m.AutopilotHealthy))
			}
		}},
	{name: "raftkit_autopilot_failure_tolerance", kind: gauge,
		help: "On the leader: how many voters can fail now with a quorum of healthy voters left. Absent elsewhere and before the first check.",
		value: func(m *raftsync.Metrics, emit func(float64, ...string)) {
			if m.AutopilotKnown {
				emit(float64(m.AutopilotFailureTolerance))
			}
		}},
	{name: "raftkit_autopilot_dead_servers_removed_total", kind: counter,
		help:  "Dead members autopilot removed from the configuration while this node led.",
		value: one(func(m *raftsync.Metrics) float64 { return float64(m.DeadServersRemoved) })},
}

// timingSpecs returns the three families of a timed operation: a summary
// of its durations, a summary of its sizes (count and sum of those that
// succeeded) and a counter of its failures.
func timingSpecs(prefix, what string, get func(*raftsync.Metrics) raftsync.Timing) []spec {
	return []spec{
		{name: prefix + "_duration_seconds", kind: summary,
			help: "Seconds taken by " + what + " (count and sum of those that succeeded).",
			timing: func(m *raftsync.Metrics) (uint64, float64) {
				t := get(m)
				return t.Count, t.Seconds
			}},
		{name: prefix + "_size_bytes", kind: summary,
			help: "Bytes of " + what + " (count and sum of those that succeeded).",
			timing: func(m *raftsync.Metrics) (uint64, float64) {
				t := get(m)
				return t.Count, float64(t.Bytes)
			}},
		{name: prefix + "_failures_total", kind: counter,
			help:  "Failed " + what + ".",
			value: one(func(m *raftsync.Metrics) float64 { return float64(get(m).Failures) })},
	}
}

// Collector publishes one node's Metrics as Prometheus series. Create it
// with NewCollector.
type Collector struct {
	read  func() raftsync.Metrics
	descs []*prometheus.Desc // one per spec
}

// NewCollector returns a collector of node's metrics, every series labelled
// with node_id (fixed: the node's ID) and cluster_id (read at each scrape:
// a joining node learns it from the cluster). Collectors of different nodes
// can share a registry. Each scrape calls node.Metrics, which never blocks.
func NewCollector(node *raftsync.Node) *Collector {
	return newCollector(node.ID(), node.Metrics)
}

func newCollector(nodeID string, read func() raftsync.Metrics) *Collector {
	c := &Collector{read: read}
	for _, s := range specs {
		c.descs = append(c.descs, prometheus.NewDesc(s.name, s.help,
			append([]string{"cluster_id"}, s.labels...), prometheus.Labels{"node_id": nodeID}))
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	m := c.read()
	for i, s := range specs {
		d := c.descs[i]
		switch s.kind {
		case summary:
			n, sum := s.timing(&m)
			sm, err := prometheus.NewConstSummary(d, n, sum, nil, m.ClusterID)
			if err != nil {
				sm = prometheus.NewInvalidMetric(d, err)
			}
			ch <- sm
		default:
			vt := prometheus.GaugeValue
			if s.kind == counter {
				vt = prometheus.CounterValue
			}
			s.value(&m, func(v float64, lv ...string) {
				ch <- constMetric(d, vt, v, append([]string{m.ClusterID}, lv...)...)
			})
		}
	}
}

// constMetric is prometheus.NewConstMetric, reporting an error (a label
// value that is not valid UTF-8) as an invalid metric instead of a panic.
func constMetric(d *prometheus.Desc, vt prometheus.ValueType, v float64, labelValues ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(d, vt, v, labelValues...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}
