package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/raftkit/raftkit/readiness"
)

// runner holds a run's state: options, data directory, figures, and the
// etcd peer once started.
type runner struct {
	o        options
	base     string
	figs     *figures
	progress io.Writer
	logger   hclog.Logger
	etcd     *etcdPeer
	failures []error
	seq      int
	start    time.Time
}

// dirFor returns a new, unique directory under the run's base.
func (r *runner) dirFor(name string) string {
	r.seq++
	return filepath.Join(r.base, fmt.Sprintf("%03d-%s", r.seq, name))
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.progress, "bench: %6.1fs "+format+"\n", append([]any{time.Since(r.start).Seconds()}, args...)...)
}

// fail records a failed cell; the run goes on with the next one.
func (r *runner) fail(cell string, err error) {
	r.failures = append(r.failures, fmt.Errorf("%s: %w", cell, err))
	r.logf("FAILED %s: %v", cell, err)
}

// etcdPeer returns the running peer, building and starting it first.
func (r *runner) etcdPeer(ctx context.Context) (*etcdPeer, error) {
	if r.etcd != nil {
		return r.etcd, nil
	}
	bin := r.o.etcdBin
	if bin == "" {
		t0 := time.Now()
		var err error
		if bin, err = buildEtcdPeer(ctx, r.base); err != nil {
			return nil, err
		}
		r.logf("built the etcd peer in %v", time.Since(t0).Round(time.Millisecond))
	}
	p, err := startEtcdPeer(bin, filepath.Join(r.base, "etcd.log"))
	if err != nil {
		return nil, err
	}
	r.etcd = p
	return p, nil
}

// etcdDo sends req to the etcd peer (starting it if needed), bounded by
// timeout. A peer that does not answer in time is killed, and the next
// request starts a new one.
func (r *runner) etcdDo(ctx context.Context, req etcdRequest, timeout time.Duration) (sample, error) {
	p, err := r.etcdPeer(ctx)
	if err != nil {
		return sample{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s, err := p.do(ctx, req)
	if err != nil && (ctx.Err() != nil || p.exited()) {
		r.closeEtcd()
	}
	return s, err
}

func (r *runner) closeEtcd() {
	if r.etcd != nil {
		if err := r.etcd.close(); err != nil {
			r.logf("etcd peer: %v", err)
		}
		r.etcd = nil
	}
}

// parseTuning reads a -rec value: comma-separated key=value pairs among
// maxappend, batch, logcache, nofreelistsync, persist-entries,
// persist-interval and wal.
func parseTuning(s string) (tuning, error) {
	var t tuning
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return t, fmt.Errorf("%q is not key=value", kv)
		}
		var err error
		switch k {
		case "maxappend":
			t.MaxAppendEntries, err = strconv.Atoi(v)
			if err == nil && (t.MaxAppendEntries < 1 || t.MaxAppendEntries > 1024) {
				err = fmt.Errorf("maxappend %d not in 1..1024 (raft's limit)", t.MaxAppendEntries)
			}
		case "batch":
			t.BatchApplyCh, err = strconv.ParseBool(v)
		case "logcache":
			t.LogCache, err = strconv.Atoi(v)
		case "nofreelistsync":
			t.NoFreelistSync, err = strconv.ParseBool(v)
		case "persist-entries":
			t.Persist.EveryEntries, err = strconv.ParseUint(v, 10, 64)
		case "persist-interval":
			t.Persist.Interval, err = time.ParseDuration(v)
		case "wal":
			t.WAL, err = strconv.ParseBool(v)
		default:
			return t, fmt.Errorf("unknown tuning key %q", k)
		}
		if err != nil {
			return t, fmt.Errorf("%s: %w", k, err)
		}
	}
	if err := t.Persist.Validate(); err != nil && t.Persist != (readiness.PersistPolicy{}) {
		return t, err
	}
	return t, nil
}

// mkdir creates dir.
func mkdir(dir string) error { return os.MkdirAll(dir, 0o700) }

// discardLogger is a logger that drops everything.
func discardLogger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Level: hclog.Off, Output: io.Discard})
}
