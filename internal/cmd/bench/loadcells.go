package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// commandSize is the size of every write, as the issue asks.
const commandSize = 100

// readKey is the key every read run reads.
const readKey = "read-key"

// opTimeout bounds one operation of a load run.
const opTimeout = 10 * time.Second

// etcdStopTimeout bounds stopping the etcd peer's cluster.
const etcdStopTimeout = time.Minute

// clusterStartTimeout bounds starting a cluster.
const clusterStartTimeout = 2 * time.Minute

// inprocSystem names an in-process system and how to start it.
type inprocSystem struct {
	name  string
	start func(ctx context.Context, dir string) (inproc, error)
}

// loadSystems lists the in-process systems of this run, defaults first,
// then the recommended tuning when asked for.
func (r *runner) loadSystems() []inprocSystem {
	var out []inprocSystem
	add := func(name string, t tuning, rk bool) {
		out = append(out, inprocSystem{name: name, start: func(ctx context.Context, dir string) (inproc, error) {
			if rk {
				return newRKCluster(ctx, dir, t, false, r.logger)
			}
			return newBareCluster(ctx, dir, t, false, r.logger)
		}})
	}
	if r.o.runs("raftkit") {
		add("raftkit", tuning{}, true)
		if r.o.hasRec {
			add("raftkit-rec", r.o.rec, true)
		}
	}
	if r.o.runs("bareraft") {
		add("bareraft", tuning{}, false)
		if r.o.hasRec {
			add("bareraft-rec", r.o.rec, false)
		}
	}
	return out
}

var onNames = []string{"leader", "follower"}

var readLevels = []readLevel{readStrong, readLease, readStale}

// writesAndReads runs the write and read cells: per repetition, each
// system in turn gets one fresh cluster for all its cells, so that the
// systems interleave and share the machine's drift alike.
func (r *runner) writesAndReads(ctx context.Context) error {
	for rep := 0; rep < r.o.reps; rep++ {
		for _, sys := range r.loadSystems() {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.inprocCells(ctx, rep, sys)
		}
		if r.o.runs("etcd") {
			r.etcdCells(ctx, rep)
		}
	}
	return ctx.Err()
}

func (r *runner) inprocCells(ctx context.Context, rep int, sys inprocSystem) {
	sctx, cancel := context.WithTimeout(ctx, clusterStartTimeout)
	c, err := sys.start(sctx, r.dirFor(sys.name+"-load"))
	cancel()
	if err != nil {
		r.fail(sys.name+" start", err)
		return
	}
	defer func() {
		if err := c.close(); err != nil {
			r.fail(sys.name+" close", err)
		}
	}()
	r.logf("rep %d: %s cluster up", rep+1, sys.name)
	if r.o.has("writes") {
		for _, on := range onNames {
			for _, w := range r.o.writers {
				name := fmt.Sprintf("writes.%s.w%d", on, w)
				s, err := r.inprocWrites(ctx, c, on == "follower", w)
				r.record(name, sys.name, "ms", s, err)
			}
		}
	}
	if r.o.has("reads") {
		if err := r.prepareReads(ctx, c); err != nil {
			r.fail(sys.name+" reads", err)
			return
		}
		for _, lvl := range readLevels {
			for _, on := range onNames {
				for _, n := range r.o.readers {
					name := fmt.Sprintf("reads.%s.%s.r%d", lvl, on, n)
					s, err := r.inprocReads(ctx, c, lvl, on == "follower", n)
					r.record(name, sys.name, "us", s, err)
				}
			}
		}
	}
}

// record adds a cell's throughput and latency figures, or notes why there
// are none.
func (r *runner) record(name, system, latUnit string, s sample, err error) {
	if errors.Is(err, errUnsupported) {
		return
	}
	if err == nil {
		err = s.check()
	}
	if err != nil {
		r.fail(name+" "+system, err)
		return
	}
	div := 1e6 // ns per ms
	if latUnit == "us" {
		div = 1e3
	}
	r.figs.add(name+".tput", system, "ops/s", s.throughput())
	r.figs.add(name+".p50", system, latUnit, float64(s.P50Ns)/div)
	r.figs.add(name+".p99", system, latUnit, float64(s.P99Ns)/div)
	r.logf("%-28s %-12s %9.0f ops/s  p50 %8.3f %s  p99 %8.3f %s", name, system, s.throughput(), float64(s.P50Ns)/div, latUnit, float64(s.P99Ns)/div, latUnit)
}

func (r *runner) inprocWrites(ctx context.Context, c inproc, onFollower bool, writers int) (sample, error) {
	i, err := member(ctx, c, onFollower)
	if err != nil {
		return sample{}, err
	}
	probe := setCommand("probe", commandSize)
	if err := c.apply(ctx, i, probe); err != nil {
		return sample{}, err
	}
	return runLoad(ctx, writers, r.o.warmup, r.o.duration, func(ctx context.Context, w, n int) error {
		ctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		return c.apply(ctx, i, setCommand(fmt.Sprintf("w%04d-%02d", w, n%100), commandSize))
	}), nil
}

// prepareReads writes the key the reads look for and waits until every
// member holds it locally.
func (r *runner) prepareReads(ctx context.Context, c inproc) error {
	l, err := c.leader(ctx)
	if err != nil {
		return err
	}
	if err := c.apply(ctx, l, setCommand(readKey, commandSize)); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return poll(wctx, "every member to hold the read key", func() bool {
		for i := 0; i < 3; i++ {
			if c.read(wctx, i, readStale, readKey) != nil {
				return false
			}
		}
		return true
	})
}

func (r *runner) inprocReads(ctx context.Context, c inproc, lvl readLevel, onFollower bool, readers int) (sample, error) {
	i, err := member(ctx, c, onFollower)
	if err != nil {
		return sample{}, err
	}
	if err := c.read(ctx, i, lvl, readKey); err != nil {
		return sample{}, err
	}
	return runLoad(ctx, readers, r.o.warmup, r.o.duration, func(ctx context.Context, _, _ int) error {
		ctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		return c.read(ctx, i, lvl, readKey)
	}), nil
}

// etcdCells runs the same cells against the etcd peer. etcd has no lease
// read: its serializable Get is the peer for both Lease and Stale, so the
// same measurement appears under both.
func (r *runner) etcdCells(ctx context.Context, rep int) {
	if _, err := r.etcdDo(ctx, etcdRequest{Op: "start", Dir: r.dirFor("etcd-load")}, clusterStartTimeout); err != nil {
		r.fail("etcd start", err)
		return
	}
	defer func() {
		if _, err := r.etcdDo(ctx, etcdRequest{Op: "stop"}, etcdStopTimeout); err != nil {
			r.fail("etcd stop", err)
		}
	}()
	cellTimeout := r.o.warmup + r.o.duration + time.Minute
	r.logf("rep %d: etcd cluster up", rep+1)
	ms := func(d time.Duration) int { return int(d / time.Millisecond) }
	if r.o.has("writes") {
		for _, on := range onNames {
			for _, w := range r.o.writers {
				s, err := r.etcdDo(ctx, etcdRequest{Op: "writes", Conc: w, On: on, Size: commandSize, WarmupMs: ms(r.o.warmup), DurationMs: ms(r.o.duration)}, cellTimeout)
				r.record(fmt.Sprintf("writes.%s.w%d", on, w), "etcd", "ms", s, err)
			}
		}
	}
	if r.o.has("reads") {
		for _, mode := range []string{"linearizable", "serializable"} {
			for _, on := range onNames {
				for _, n := range r.o.readers {
					s, err := r.etcdDo(ctx, etcdRequest{Op: "reads", Mode: mode, Conc: n, On: on, WarmupMs: ms(r.o.warmup), DurationMs: ms(r.o.duration)}, cellTimeout)
					if mode == "linearizable" {
						r.record(fmt.Sprintf("reads.strong.%s.r%d", on, n), "etcd", "us", s, err)
						continue
					}
					r.record(fmt.Sprintf("reads.lease.%s.r%d", on, n), "etcd", "us", s, err)
					r.record(fmt.Sprintf("reads.stale.%s.r%d", on, n), "etcd", "us", s, err)
				}
			}
		}
	}
}
