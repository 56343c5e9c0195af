package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// restartTimeout bounds one restart measurement.
const restartTimeout = 3 * time.Minute

// loneWait is how long a lone bare raft node is watched for applying its
// log with its peers down (it will not: raft applies nothing past its
// snapshot until a leader speaks).
const loneWait = 2 * time.Second

// restartable is what the restart scenario needs of a cluster.
type restartable interface {
	dir(i int) string
	openNode(ctx context.Context, i int) error
	stopNode(i int) error
	closeAll() error
	// caughtUp blocks until member i may serve: raftkit's WaitReady, and
	// for both systems a leader known and the application FSM at target.
	caughtUp(ctx context.Context, i int, target uint64) error
	last(i int) uint64
	leaderIndex() int
}

type rkRestart struct{ c *rkCluster }

func (a rkRestart) dir(i int) string                          { return a.c.nodes[i].dir }
func (a rkRestart) openNode(ctx context.Context, i int) error { return a.c.open(ctx, i) }
func (a rkRestart) stopNode(i int) error                      { return a.c.stop(i) }
func (a rkRestart) closeAll() error                           { return a.c.close() }
func (a rkRestart) last(i int) uint64                         { return a.c.nodes[i].last() }
func (a rkRestart) caughtUp(ctx context.Context, i int, target uint64) error {
	if err := a.c.nodes[i].node.WaitReady(ctx); err != nil {
		return err
	}
	return poll(ctx, "the FSM to reach the pre-shutdown index", func() bool { return a.last(i) >= target })
}
func (a rkRestart) leaderIndex() int {
	for i, m := range a.c.nodes {
		if m.node != nil && m.node.State() == raft.Leader {
			return i
		}
	}
	return -1
}

type bareRestart struct{ c *bareCluster }

func (a bareRestart) dir(i int) string                        { return a.c.nodes[i].dir }
func (a bareRestart) openNode(_ context.Context, i int) error { return a.c.open(i) }
func (a bareRestart) stopNode(i int) error                    { return a.c.stop(i) }
func (a bareRestart) closeAll() error                         { return a.c.close() }
func (a bareRestart) last(i int) uint64                       { return a.c.nodes[i].last() }
func (a bareRestart) caughtUp(ctx context.Context, i int, target uint64) error {
	m := a.c.nodes[i]
	return poll(ctx, "a leader and the FSM at the pre-shutdown index", func() bool {
		addr, _ := m.raft.LeaderWithID()
		return addr != "" && m.last() >= target
	})
}
func (a bareRestart) leaderIndex() int {
	for i, m := range a.c.nodes {
		if m.raft != nil && m.raft.State() == raft.Leader {
			return i
		}
	}
	return -1
}

// restart measures, for each log length and FSM kind, the time from
// starting members until they may serve: the whole cluster at once, one
// follower with the others up, and one node alone with its peers down.
func (r *runner) restart(ctx context.Context) error {
	for _, n := range r.o.sizes {
		for _, durable := range []bool{false, true} {
			for _, sys := range []string{"raftkit", "bareraft"} {
				if !r.o.runs(sys) {
					continue
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if err := r.restartOne(ctx, sys, durable, n); err != nil {
					r.fail(fmt.Sprintf("restart %s durable=%v %d", sys, durable, n), err)
				}
			}
		}
	}
	return ctx.Err()
}

func sizeName(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

func fsmName(durable bool) string {
	if durable {
		return "durable"
	}
	return "mem"
}

func (r *runner) restartOne(ctx context.Context, sys string, durable bool, n int) (err error) {
	tag := fmt.Sprintf("%s.%s", fsmName(durable), sizeName(n))
	dir := r.dirFor(fmt.Sprintf("restart-%s-%s", sys, tag))
	sctx, cancel := context.WithTimeout(ctx, clusterStartTimeout)
	defer cancel()
	var c restartable
	var load inproc
	var setTuning func(tuning)
	if sys == "raftkit" {
		rc, err := newRKCluster(sctx, dir, tuning{}, durable, r.logger)
		if err != nil {
			return err
		}
		c, load, setTuning = rkRestart{rc}, rc, func(t tuning) { rc.tune = t }
	} else {
		bc, err := newBareCluster(sctx, dir, tuning{}, durable, r.logger)
		if err != nil {
			return err
		}
		c, load, setTuning = bareRestart{bc}, bc, func(t tuning) { bc.tune = t }
	}
	defer func() { err = errors.Join(err, c.closeAll()) }()
	if err := settle(sctx, load, c); err != nil {
		return err
	}
	if err := c.closeAll(); err != nil {
		return err
	}

	t0 := time.Now()
	target, err := appendAll(c, n)
	if err != nil {
		return err
	}
	appended := time.Since(t0)
	// The first start commits and applies the appended entries. It is
	// preparation, not measured: larger batches make it quicker, and the
	// measured restarts go back to the defaults.
	setTuning(tuning{MaxAppendEntries: 1024})
	t0 = time.Now()
	_, err = r.startAll(ctx, c, target)
	setTuning(tuning{})
	if err != nil {
		return fmt.Errorf("first start: %w", err)
	}
	for i := 0; i < 3; i++ {
		target = max(target, c.last(i))
	}
	if err := c.closeAll(); err != nil {
		return err
	}
	first, last, err := logSpan(c.dir(0))
	if err != nil {
		return err
	}
	r.logf("restart %s %s: appended %d entries per node in %v, first start applied them in %v; log now %d..%d",
		sys, tag, n, appended.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond), first, last)
	r.figs.add("restart.log-entries."+tag, sys, "entries", float64(last-first+1))

	for rep := 0; rep < r.o.reps; rep++ {
		took, err := r.startAll(ctx, c, target)
		if err != nil {
			return fmt.Errorf("cluster restart: %w", err)
		}
		r.figs.add("restart.cluster."+tag, sys, "s", took.Seconds())
		r.logf("restart %s %s: whole cluster ready in %v", sys, tag, took.Round(time.Millisecond))

		f := (c.leaderIndex() + 1) % 3
		if err := c.stopNode(f); err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, restartTimeout)
		t := time.Now()
		err = c.openNode(rctx, f)
		if err == nil {
			err = c.caughtUp(rctx, f, target)
		}
		cancel()
		if err != nil {
			return fmt.Errorf("follower restart: %w", err)
		}
		took = time.Since(t)
		r.figs.add("restart.follower."+tag, sys, "s", took.Seconds())
		r.logf("restart %s %s: one follower ready in %v", sys, tag, took.Round(time.Millisecond))
		if err := c.closeAll(); err != nil {
			return err
		}
	}

	// One node alone, its peers down.
	t := time.Now()
	if err := c.openNode(ctx, 1); err != nil {
		return fmt.Errorf("lone restart: %w", err)
	}
	opened := time.Since(t)
	if sys == "bareraft" {
		wctx, cancel := context.WithTimeout(ctx, loneWait)
		_ = poll(wctx, "", func() bool { return c.last(1) >= target })
		cancel()
	} else {
		r.figs.add("restart.lone-recovered."+tag, sys, "s", opened.Seconds())
	}
	frac := float64(c.last(1)) / float64(target)
	r.figs.add("restart.lone-applied."+tag, sys, "fraction", frac)
	r.logf("restart %s %s: lone node open in %v, applied %d of %d", sys, tag, opened.Round(time.Millisecond), c.last(1), target)
	return nil
}

// startAll opens every member at once and returns when all of them are
// caught up: the time a restarted cluster takes to serve again.
func (r *runner) startAll(ctx context.Context, c restartable, target uint64) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, restartTimeout)
	defer cancel()
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = c.openNode(ctx, i); errs[i] != nil {
				return
			}
			errs[i] = c.caughtUp(ctx, i, target)
		}()
	}
	wg.Wait()
	return time.Since(t0), errors.Join(errs...)
}

// settle writes one command and waits until every member's FSM has
// applied it, so that the members' logs end at the same entry before they
// are stopped and extended.
func settle(ctx context.Context, load inproc, c restartable) error {
	l, err := load.leader(ctx)
	if err != nil {
		return err
	}
	if err := load.apply(ctx, l, setCommand("settle", commandSize)); err != nil {
		return err
	}
	idx := c.last(l)
	return poll(ctx, "every member to apply the settle command", func() bool {
		for i := 0; i < 3; i++ {
			if c.last(i) < idx {
				return false
			}
		}
		return true
	})
}

// appendAll appends n entries to every stopped member's log, in parallel,
// after checking that the logs end at the same index.
func appendAll(c restartable, n int) (uint64, error) {
	var want uint64
	for i := 0; i < 3; i++ {
		_, last, err := logSpan(c.dir(i))
		if err != nil {
			return 0, err
		}
		if i > 0 && last != want {
			return 0, fmt.Errorf("bench: member logs end at different indexes (%d and %d) before the append", want, last)
		}
		want = last
	}
	var wg sync.WaitGroup
	lasts := make([]uint64, 3)
	errs := make([]error, 3)
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lasts[i], errs[i] = appendEntries(c.dir(i), n)
		}()
	}
	wg.Wait()
	return lasts[0], errors.Join(errs...)
}
