package main

import (
	"fmt"

	"github.com/raftkit/raftkit/examples/gateway/admin"
	"github.com/raftkit/raftkit/examples/gateway/metrics"
	"github.com/raftkit/raftkit/examples/gateway/proxy"
	"github.com/raftkit/raftkit/readiness"
)

// registerMetrics exposes the gateway's counters at /metrics. Every
// reader is an atomic load or Node.Readiness, which never blocks.
func registerMetrics(r *metrics.Registry, g *gateway) {
	px := func(f func(s proxy.Stats) uint64) func() float64 {
		return func() float64 { return float64(f(g.proxy.Stats())) }
	}
	r.Value("gateway_proxy_full_rebuilds_total", "Full builds of the route table: 1 per start, plus one per change history gap.", metrics.Counter, px(func(s proxy.Stats) uint64 { return s.FullRebuilds }))
	r.Value("gateway_proxy_route_swaps_total", "Routes added, changed or removed one at a time after the first build.", metrics.Counter, px(func(s proxy.Stats) uint64 { return s.RouteSwaps }))
	r.Value("gateway_proxy_index_updates_total", "Incremental updates that replaced the matching index (routes added, removed or moved).", metrics.Counter, px(func(s proxy.Stats) uint64 { return s.IndexUpdates }))
	r.Value("gateway_proxy_routes", "Routes in the proxy's table.", metrics.Gauge, px(func(s proxy.Stats) uint64 { return uint64(s.Routes) }))
	r.Value("gateway_proxy_table_index", "Store index the proxy's table reflects.", metrics.Gauge, px(func(s proxy.Stats) uint64 { return s.TableIndex }))
	r.Value("gateway_proxy_no_route_total", "Requests that matched no route (404).", metrics.Counter, px(func(s proxy.Stats) uint64 { return s.NoRoute }))
	r.Value("gateway_proxy_retries_total", "Requests sent again to another upstream.", metrics.Counter, px(func(s proxy.Stats) uint64 { return s.Retries }))
	r.Value("gateway_proxy_upstream_errors_total", "Failed upstream attempts (connection errors, retried 5xx, timeouts).", metrics.Counter, px(func(s proxy.Stats) uint64 { return s.UpstreamErrors }))
	r.Value("gateway_proxy_timeouts_total", "Requests that ran out of their route's timeout (504).", metrics.Counter, px(func(s proxy.Stats) uint64 { return s.Timeouts }))
	r.Add("gateway_proxy_responses_total", "Proxy responses by status class.", metrics.Counter, func() []metrics.Sample {
		s := g.proxy.Stats()
		out := []metrics.Sample{{Labels: `class="none"`, Value: float64(s.Responses[0])}}
		for i := 1; i < len(s.Responses); i++ {
			out = append(out, metrics.Sample{Labels: fmt.Sprintf(`class="%dxx"`, i), Value: float64(s.Responses[i])})
		}
		return out
	})
	r.Value("gateway_proxy_serving", "1 once the proxy listener is open.", metrics.Gauge, func() float64 { return b2f(g.serving.Load()) })

	ad := func(f func(s admin.Stats) uint64) func() float64 {
		return func() float64 { return float64(f(g.admin.Stats())) }
	}
	r.Value("gateway_admin_applies_total", "Commands the admin API handed to raft.", metrics.Counter, ad(func(s admin.Stats) uint64 { return s.Applies }))
	r.Value("gateway_admin_apply_failures_total", "Commands whose Apply failed (no leader, outcome unknown).", metrics.Counter, ad(func(s admin.Stats) uint64 { return s.ApplyFailures }))
	r.Value("gateway_admin_rejected_total", "Commands the state machine refused (conflict, not found).", metrics.Counter, ad(func(s admin.Stats) uint64 { return s.Rejected }))
	r.Value("gateway_admin_refused_total", "Write requests refused before reaching raft (bad input).", metrics.Counter, ad(func(s admin.Stats) uint64 { return s.Refused }))
	r.Value("gateway_admin_unauthorized_total", "Admin requests answered 401 (no or bad credentials).", metrics.Counter, ad(func(s admin.Stats) uint64 { return s.Unauthorized }))
	r.Value("gateway_admin_forbidden_total", "Admin requests answered 403 (a read token asking to write).", metrics.Counter, ad(func(s admin.Stats) uint64 { return s.Forbidden }))

	rd := func(f func(s readiness.Status) float64) func() float64 {
		return func() float64 { return f(g.node.Readiness()) }
	}
	r.Value("gateway_raft_applied_index", "Highest log index the state machine has applied (A).", metrics.Gauge, rd(func(s readiness.Status) float64 { return float64(s.Applied) }))
	r.Value("gateway_raft_persisted_index", "Durably recorded applied index (P).", metrics.Gauge, rd(func(s readiness.Status) float64 { return float64(s.Persisted) }))
	r.Value("gateway_raft_commit_index", "Commit index this node knows.", metrics.Gauge, rd(func(s readiness.Status) float64 { return float64(s.CommitIndex) }))
	r.Value("gateway_raft_is_leader", "1 on the leader.", metrics.Gauge, rd(func(s readiness.Status) float64 { return b2f(s.IsLeader) }))
	r.Value("gateway_ready", "1 when the node is Ready.", metrics.Gauge, rd(func(s readiness.Status) float64 { return b2f(s.State == readiness.Ready) }))
	r.Add("gateway_readiness_state", "The node's readiness state (1 for the current one).", metrics.Gauge, func() []metrics.Sample {
		st := g.node.Readiness().State
		var out []metrics.Sample
		for s := readiness.Starting; s <= readiness.Removed; s++ { // Removed is the last state
			out = append(out, metrics.Sample{Labels: fmt.Sprintf(`state="%s"`, s), Value: b2f(s == st)})
		}
		return out
	})
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
