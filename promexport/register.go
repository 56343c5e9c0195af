package promexport

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/raftkit/raftkit/raftsync"
)

// Option adjusts Register and Handler.
type Option func(*options)

type options struct {
	sink   *RaftSink
	noRaft bool
}

// WithRaftSink publishes raft's metrics from sink instead of the
// process-wide sink InstallRaftSink installs. Use it when the program sets
// the global go-metrics sink itself (a FanoutSink holding sink and its
// own).
func WithRaftSink(sink *RaftSink) Option { return func(o *options) { o.sink = sink } }

// WithoutRaftMetrics leaves raft's own metrics out, and the global
// go-metrics sink alone.
func WithoutRaftMetrics() Option { return func(o *options) { o.noRaft = true } }

// Register adds node's collector (every raftkit_* family listed in the
// package documentation) to reg, and the collector of raft's own metrics
// unless reg already has one (a second node in the same registry) or
// WithoutRaftMetrics is given. Without WithRaftSink it calls
// InstallRaftSink, which replaces the global go-metrics sink.
//
// Errors: reg's registration error (a node registered twice with the same
// ID), or the go-metrics set-up's.
func Register(reg prometheus.Registerer, node *raftsync.Node, opts ...Option) error {
	if reg == nil || node == nil {
		return errors.New("promexport: Register needs a registry and a node")
	}
	var o options
	for _, f := range opts {
		f(&o)
	}
	if err := reg.Register(NewCollector(node)); err != nil {
		return fmt.Errorf("promexport: node %s: %w", node.ID(), err)
	}
	if o.noRaft {
		return nil
	}
	sink := o.sink
	if sink == nil {
		var err error
		if sink, err = InstallRaftSink(); err != nil {
			return fmt.Errorf("promexport: installing the go-metrics sink: %w", err)
		}
	}
	err := reg.Register(NewRaftCollector(sink, node))
	var already prometheus.AlreadyRegisteredError
	if err != nil && !errors.As(err, &already) {
		return fmt.Errorf("promexport: raft metrics: %w", err)
	}
	return nil
}

// Handler returns an http.Handler that serves node's metrics, raft's own,
// and the Go runtime's and the process's (the standard go_* and process_*
// families) in the Prometheus exposition formats, from a registry of its
// own. It is the one-line way to expose a node:
//
//	http.Handle("/metrics", promexport.Handler(node))
//
// A registration failure is served as HTTP 500 with its reason.
func Handler(node *raftsync.Node, opts ...Option) http.Handler {
	reg := prometheus.NewRegistry()
	err := Register(reg, node, opts...)
	if err == nil {
		err = reg.Register(collectors.NewGoCollector())
	}
	if err == nil {
		err = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		})
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
