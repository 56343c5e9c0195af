package promexport

import (
	"testing"

	metrics "github.com/hashicorp/go-metrics/compat"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestRaftSinkFamilies: what raft reports through go-metrics becomes
// valid families: names sanitized, one label set per family (the union,
// "" where a series lacks a label), our labels on every series, and a key
// reported under two types kept as the first.
func TestRaftSinkFamilies(t *testing.T) {
	s := NewRaftSink()
	s.IncrCounter([]string{"raft", "apply"}, 1)
	s.IncrCounter([]string{"raft", "apply"}, 2)
	s.SetGauge([]string{"raft", "peers"}, 3)
	s.SetGauge([]string{"raft", "peers"}, 2)
	s.AddSample([]string{"raft", "commitTime"}, 1.5)
	s.AddSample([]string{"raft", "commitTime"}, 2.5)
	s.AddSampleWithLabels([]string{"raft", "replication", "appendEntries", "rpc"}, 4, []metrics.Label{{Name: "peer_id", Value: "node-2"}})
	s.AddSample([]string{"raft", "replication", "appendEntries", "rpc"}, 6)
	s.IncrCounter([]string{"raft", "replication", "heartbeat", "node-2"}, 1)
	s.IncrCounterWithLabels([]string{"raft", "x"}, 1, []metrics.Label{{Name: "node_id", Value: "theirs"}})
	s.SetGauge([]string{"raft", "apply"}, 99) // apply is a counter already: dropped

	reg := prometheus.NewRegistry()
	reg.MustRegister(newRaftCollector(s, func() (string, string) { return "n1", "c1" }))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	fams := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		fams[mf.GetName()] = mf
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			if got["node_id"] != "n1" || got["cluster_id"] != "c1" {
				t.Errorf("%s series labelled %v", mf.GetName(), got)
			}
		}
	}
	if f := fams["raftkit_raft_apply"]; f == nil || f.GetType() != dto.MetricType_COUNTER || f.Metric[0].Counter.GetValue() != 3 {
		t.Errorf("raftkit_raft_apply: %v", f)
	}
	if f := fams["raftkit_raft_peers"]; f == nil || f.GetType() != dto.MetricType_GAUGE || f.Metric[0].Gauge.GetValue() != 2 {
		t.Errorf("raftkit_raft_peers: %v", f)
	}
	if f := fams["raftkit_raft_commitTime"]; f == nil || f.GetType() != dto.MetricType_SUMMARY ||
		f.Metric[0].Summary.GetSampleCount() != 2 || f.Metric[0].Summary.GetSampleSum() != 4 {
		t.Errorf("raftkit_raft_commitTime: %v", f)
	}
	if f := fams["raftkit_raft_replication_appendEntries_rpc"]; f == nil || len(f.Metric) != 2 {
		t.Errorf("appendEntries rpc with and without peer_id: %v", f)
	}
	if f := fams["raftkit_raft_replication_heartbeat_node_2"]; f == nil {
		t.Errorf("a key with a peer ID in it is not sanitized: %v", fams)
	}
	if f := fams["raftkit_raft_x"]; f == nil || len(f.Metric[0].Label) != 3 {
		t.Errorf("raft's node_id label: %v", f)
	}
}
