// Package metrics serves a handful of counters and gauges in the
// Prometheus text exposition format, without a client library: the gateway
// registers functions that read its own atomic counters, and the handler
// calls them at scrape time. It is deliberately tiny; a product would use
// prometheus/client_golang or OpenTelemetry instead.
package metrics
