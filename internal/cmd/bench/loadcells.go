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

// loadSystem is one system under load for a repetition: its cluster is
// up for all the cells, and cell runs one cell on it. cell returns
// errUnsupported for a cell the system does not offer.
type loadSystem struct {
	name  string
	cell  func(ctx context.Context, c loadCell) (sample, error)
	close func()
}

// loadCell names one write or read cell.
type loadCell struct {
	write bool
	level readLevel
	on    string // "leader" or "follower"
	conc  int
}

func (c loadCell) name() string {
	if c.write {
		return fmt.Sprintf("writes.%s.w%d", c.on, c.conc)
	}
	return fmt.Sprintf("reads.%s.%s.r%d", c.level, c.on, c.conc)
}

// cells lists this run's cells in order.
func (r *runner) cells() []loadCell {
	var out []loadCell
	if r.o.has("writes") {
		// The leader's and the follower's cell of one concurrency run back
		// to back: the follower/leader ratio then compares cells that saw
		// the same state of the machine. (Run after the leader's 256-writer
		// cell, the follower's one-writer cell shared the machine with
		// every cluster's snapshot and compaction of that burst.)
		for _, w := range r.o.writers {
			for _, on := range onNames {
				out = append(out, loadCell{write: true, on: on, conc: w})
			}
		}
	}
	if r.o.has("reads") {
		for _, lvl := range readLevels {
			for _, on := range onNames {
				for _, n := range r.o.readers {
					out = append(out, loadCell{level: lvl, on: on, conc: n})
				}
			}
		}
	}
	return out
}

// writesAndReads runs the write and read cells. Per repetition every
// system's cluster is started, then each cell runs on every system back to
// back (in an order that rotates with the repetition), so that the systems
// compared in a cell saw the same state of this shared machine within a
// few seconds of each other; clusters not under load sit idle.
func (r *runner) writesAndReads(ctx context.Context) error {
	for rep := 0; rep < r.o.reps; rep++ {
		var systems []loadSystem
		for _, sys := range r.loadSystems() {
			if s, ok := r.startInproc(ctx, rep, sys); ok {
				systems = append(systems, s)
			}
		}
		if r.o.runs("etcd") {
			if s, ok := r.startEtcd(ctx, rep); ok {
				systems = append(systems, s)
			}
		}
		for _, c := range r.cells() {
			for i := range systems {
				if ctx.Err() != nil {
					break
				}
				s := systems[(i+rep)%len(systems)]
				sm, err := s.cell(ctx, c)
				r.record(c.name(), s.name, latencyUnit(c), sm, err)
				if s.name == "etcd" && c.level == readLease && !c.write {
					// etcd has no lease read: its serializable Get is the
					// peer of both Lease and Stale, measured once.
					r.record(loadCell{level: readStale, on: c.on, conc: c.conc}.name(), s.name, "us", sm, err)
				}
			}
		}
		for _, s := range systems {
			s.close()
		}
	}
	return ctx.Err()
}

func latencyUnit(c loadCell) string {
	if c.write {
		return "ms"
	}
	return "us"
}

// startInproc starts an in-process system's cluster for a repetition.
func (r *runner) startInproc(ctx context.Context, rep int, sys inprocSystem) (loadSystem, bool) {
	sctx, cancel := context.WithTimeout(ctx, clusterStartTimeout)
	c, err := sys.start(sctx, r.dirFor(sys.name+"-load"))
	cancel()
	if err != nil {
		r.fail(sys.name+" start", err)
		return loadSystem{}, false
	}
	if r.o.has("reads") {
		if err := r.prepareReads(ctx, c); err != nil {
			r.fail(sys.name+" reads", err)
			c.close()
			return loadSystem{}, false
		}
	}
	r.logf("rep %d: %s cluster up", rep+1, sys.name)
	return loadSystem{
		name: sys.name,
		cell: func(ctx context.Context, lc loadCell) (sample, error) {
			if lc.write {
				return r.inprocWrites(ctx, c, lc.on == "follower", lc.conc)
			}
			return r.inprocReads(ctx, c, lc.level, lc.on == "follower", lc.conc)
		},
		close: func() {
			if err := c.close(); err != nil {
				r.fail(sys.name+" close", err)
			}
		},
	}, true
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

// startEtcd starts the etcd peer's cluster for a repetition. etcd has no
// lease read and serves Stale as a serializable Get (recorded under both
// by writesAndReads).
func (r *runner) startEtcd(ctx context.Context, rep int) (loadSystem, bool) {
	if _, err := r.etcdDo(ctx, etcdRequest{Op: "start", Dir: r.dirFor("etcd-load")}, clusterStartTimeout); err != nil {
		r.fail("etcd start", err)
		return loadSystem{}, false
	}
	r.logf("rep %d: etcd cluster up", rep+1)
	ms := func(d time.Duration) int { return int(d / time.Millisecond) }
	cellTimeout := r.o.warmup + r.o.duration + time.Minute
	return loadSystem{
		name: "etcd",
		cell: func(ctx context.Context, lc loadCell) (sample, error) {
			req := etcdRequest{Conc: lc.conc, On: lc.on, WarmupMs: ms(r.o.warmup), DurationMs: ms(r.o.duration)}
			switch {
			case lc.write:
				req.Op, req.Size = "writes", commandSize
			case lc.level == readStrong:
				req.Op, req.Mode = "reads", "linearizable"
			case lc.level == readLease:
				req.Op, req.Mode = "reads", "serializable"
			default:
				return sample{}, errUnsupported // measured with the lease cell
			}
			return r.etcdDo(ctx, req, cellTimeout)
		},
		close: func() {
			if r.etcd == nil {
				return
			}
			if _, err := r.etcdDo(ctx, etcdRequest{Op: "stop"}, etcdStopTimeout); err != nil {
				r.fail("etcd stop", err)
			}
		},
	}, true
}
