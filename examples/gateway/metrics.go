package main

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/raftkit/raftkit/examples/gateway/admin"
	"github.com/raftkit/raftkit/examples/gateway/proxy"
	"github.com/raftkit/raftkit/promexport"
)

// newMetrics builds the registry /metrics serves: the node's raftkit_*
// families and raft's own (promexport, labelled with the node and cluster
// IDs), the gateway's own counters, and the Go runtime's and the
// process's. The gateway's counters are read at scrape time from atomic
// counters (proxy.Stats, admin.Stats), which never block.
func newMetrics(g *gateway) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	if err := promexport.Register(reg, g.node); err != nil {
		return nil, err
	}
	cs := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&gatewayCollector{g: g},
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	return reg, nil
}

// gatewayMetric is one of the gateway's own families.
type gatewayMetric struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
	read func(p proxy.Stats, a admin.Stats) float64
}

func newGatewayMetric(name, help string, kind prometheus.ValueType, read func(p proxy.Stats, a admin.Stats) float64) gatewayMetric {
	return gatewayMetric{desc: prometheus.NewDesc(name, help, nil, nil), kind: kind, read: read}
}

var (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue

	gatewayMetrics = []gatewayMetric{
		newGatewayMetric("gateway_proxy_full_rebuilds_total", "Full builds of the route table: 1 per start, plus one per change history gap.", counter,
			func(p proxy.Stats, _ admin.Stats) float64 { return float64(p.FullRebuilds) }),
		newGatewayMetric("gateway_proxy_route_swaps_total", "Routes added, changed or removed one at a time after the first build.", counter,
			func(p proxy.Stats, _ admin.Stats) float64 { return float64(p.RouteSwaps) }),
		newGatewayMetric("gateway_proxy_index_updates_total", "Incremental updates that replaced the matching index (routes added, removed or moved).", counter,
			func(p proxy.Stats, _ admin.Stats) float64 { return float64(p.IndexUpdates) }),
		newGatewayMetric("gateway_proxy_routes", "Routes in the proxy's table.", gauge,
			func(p proxy.Stats, _ admin.Stats) float64 { return float64(p.Routes) }),
		newGatewayMetric("gateway_proxy_table_index", "Store index the proxy's table reflects.", gauge,
			func(p proxy.Stats, _ admin.Stats) float64 { return float64(p.TableIndex) }),
		newGatewayMetric("gateway_proxy_no_route_total", "Requests that matched no route (404).", counter,
			func(p proxy.Stats, _ admin.Stats) float64 { return float64(p.NoRoute) }),
		newGatewayMetric("gateway_proxy_retries_total", "Requests sent again to another upstream.", counter,
			func(p proxy.Stats, _ admin.Stats) float64 { return float64(p.Retries) }),
		newGatewayMetric("gateway_proxy_upstream_errors_total", "Failed upstream attempts (connection errors, retried 5xx, timeouts).", counter,
			func(p proxy.Stats, _ admin.Stats) float64 { return float64(p.UpstreamErrors) }),
		newGatewayMetric("gateway_proxy_timeouts_total", "Requests that ran out of their route's timeout (504).", counter,
			func(p proxy.Stats, _ admin.Stats) float64 { return float64(p.Timeouts) }),
		newGatewayMetric("gateway_admin_applies_total", "Commands the admin API handed to raft.", counter,
			func(_ proxy.Stats, a admin.Stats) float64 { return float64(a.Applies) }),
		newGatewayMetric("gateway_admin_apply_failures_total", "Commands whose Apply failed (no leader, outcome unknown).", counter,
			func(_ proxy.Stats, a admin.Stats) float64 { return float64(a.ApplyFailures) }),
		newGatewayMetric("gateway_admin_rejected_total", "Commands the state machine refused (conflict, not found).", counter,
			func(_ proxy.Stats, a admin.Stats) float64 { return float64(a.Rejected) }),
		newGatewayMetric("gateway_admin_refused_total", "Write requests refused before reaching raft (bad input).", counter,
			func(_ proxy.Stats, a admin.Stats) float64 { return float64(a.Refused) }),
		newGatewayMetric("gateway_admin_unauthorized_total", "Admin requests answered 401 (no or bad credentials).", counter,
			func(_ proxy.Stats, a admin.Stats) float64 { return float64(a.Unauthorized) }),
		newGatewayMetric("gateway_admin_forbidden_total", "Admin requests answered 403 (a read token asking to write).", counter,
			func(_ proxy.Stats, a admin.Stats) float64 { return float64(a.Forbidden) }),
	}

	responsesDesc = prometheus.NewDesc("gateway_proxy_responses_total", "Proxy responses by status class.", []string{"class"}, nil)
	servingDesc   = prometheus.NewDesc("gateway_proxy_serving", "1 once the proxy listener is open.", nil, nil)
)

// gatewayCollector publishes the gateway's own counters.
type gatewayCollector struct{ g *gateway }

// Describe implements prometheus.Collector.
func (c *gatewayCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range gatewayMetrics {
		ch <- m.desc
	}
	ch <- responsesDesc
	ch <- servingDesc
}

// Collect implements prometheus.Collector.
func (c *gatewayCollector) Collect(ch chan<- prometheus.Metric) {
	p, a := c.g.proxy.Stats(), c.g.admin.Stats()
	for _, m := range gatewayMetrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.read(p, a))
	}
	for i, n := range p.Responses {
		class := "none"
		if i > 0 {
			class = fmt.Sprintf("%dxx", i)
		}
		ch <- prometheus.MustNewConstMetric(responsesDesc, counter, float64(n), class)
	}
	serving := 0.0
	if c.g.serving.Load() {
		serving = 1
	}
	ch <- prometheus.MustNewConstMetric(servingDesc, gauge, serving)
}
