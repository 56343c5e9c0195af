package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// joinValueSize is the size of each value written as join state.
const joinValueSize = 10 << 10

// join measures, for each state size, the time from starting a fourth
// member until it may serve: raftkit's Open with Join until WaitReady;
// bare raft's NewRaft plus the leader's AddVoter until the new FSM holds
// everything committed before it started; etcd's member add and start
// until ready and applied as far.
func (r *runner) join(ctx context.Context) error {
	for _, b := range r.o.joinBytes {
		for rep := 0; rep < r.o.reps; rep++ {
			name := fmt.Sprintf("join.%dMB", b>>20)
			for _, sys := range []string{"raftkit", "bareraft", "etcd"} {
				if !r.o.runs(sys) {
					continue
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				var took time.Duration
				var err error
				switch sys {
				case "raftkit":
					took, err = r.joinRaftkit(ctx, b)
				case "bareraft":
					took, err = r.joinBare(ctx, b)
				case "etcd":
					took, err = r.joinEtcd(ctx, b)
				}
				if err != nil {
					r.fail(name+" "+sys, err)
					continue
				}
				r.figs.add(name, sys, "s", took.Seconds())
				r.logf("%s %s: new member ready in %v", name, sys, took.Round(time.Millisecond))
			}
		}
	}
	return ctx.Err()
}

// fillRetries bounds how often one fill write is retried.
const fillRetries = 5

// fillInproc writes bytes of state through the leader from 16 writers and
// returns the index the leader's FSM reached. The fill prepares a join, it
// is not measured: a write that fails (a leader that stepped down while
// the disk was saturated, seen about once per full run at 100 MB) is
// retried through the current leader, which is safe because every write
// sets its own key to the same value. Retries are logged.
func fillInproc(ctx context.Context, c inproc, leader int, bytes int64, logf func(string, ...any)) error {
	n := int(bytes / joinValueSize)
	const writers = 16
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	var leaderMu sync.Mutex
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += writers {
				cmd := setCommand(fmt.Sprintf("state/%09d", i), joinValueSize)
				for attempt := 0; ; attempt++ {
					leaderMu.Lock()
					l := leader
					leaderMu.Unlock()
					err := c.apply(ctx, l, cmd)
					if err == nil {
						break
					}
					if attempt == fillRetries || ctx.Err() != nil {
						errs <- fmt.Errorf("bench: filling state: %w", err)
						return
					}
					logf("join fill: write %d failed (%v); retrying through the current leader", i, err)
					nl, lerr := c.leader(ctx)
					if lerr != nil {
						errs <- fmt.Errorf("bench: filling state: %w (then: %w)", err, lerr)
						return
					}
					leaderMu.Lock()
					leader = nl
					leaderMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (r *runner) joinRaftkit(ctx context.Context, bytes int64) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, restartTimeout)
	defer cancel()
	dir := r.dirFor("join-raftkit")
	c, err := newRKCluster(ctx, dir, tuning{}, false, r.logger)
	if err != nil {
		return 0, err
	}
	defer c.close()
	l, err := c.leader(ctx)
	if err != nil {
		return 0, err
	}
	if err := fillInproc(ctx, c, l, bytes, r.logf); err != nil {
		return 0, err
	}
	target := c.nodes[l].last()
	c.nodes = append(c.nodes, &rkNode{id: "node3", dir: filepath.Join(dir, "node3")})
	cfg := c.config(3)
	cfg.Join = []string{c.nodes[l].addr}
	t0 := time.Now()
	if err := c.openWith(ctx, 3, cfg); err != nil {
		return 0, err
	}
	if err := c.nodes[3].node.WaitReady(ctx); err != nil {
		return 0, err
	}
	took := time.Since(t0)
	if got := c.nodes[3].last(); got < target {
		return 0, fmt.Errorf("bench: raftkit new member Ready at FSM index %d, before the %d committed when it started", got, target)
	}
	return took, nil
}

func (r *runner) joinBare(ctx context.Context, bytes int64) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, restartTimeout)
	defer cancel()
	dir := r.dirFor("join-bareraft")
	c, err := newBareCluster(ctx, dir, tuning{}, false, r.logger)
	if err != nil {
		return 0, err
	}
	defer c.close()
	l, err := c.leader(ctx)
	if err != nil {
		return 0, err
	}
	if err := fillInproc(ctx, c, l, bytes, r.logf); err != nil {
		return 0, err
	}
	target := c.nodes[l].last()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	addr := ln.Addr().String()
	ln.Close()
	m := &bareNode{id: "node3", dir: filepath.Join(dir, "node3"), addr: addr}
	c.nodes = append(c.nodes, m)
	t0 := time.Now()
	if err := c.open(3); err != nil {
		return 0, err
	}
	if err := c.nodes[l].raft.AddVoter(raft.ServerID(m.id), raft.ServerAddress(addr), 0, 0).Error(); err != nil {
		return 0, fmt.Errorf("bench: AddVoter: %w", err)
	}
	if err := (bareRestart{c}).caughtUp(ctx, 3, target); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

func (r *runner) joinEtcd(ctx context.Context, bytes int64) (time.Duration, error) {
	if _, err := r.etcdDo(ctx, etcdRequest{Op: "start", Dir: r.dirFor("join-etcd")}, clusterStartTimeout); err != nil {
		return 0, err
	}
	s, err := r.etcdDo(ctx, etcdRequest{Op: "join", Bytes: bytes, ValueSize: joinValueSize}, restartTimeout)
	if r.etcd != nil {
		if _, serr := r.etcdDo(ctx, etcdRequest{Op: "stop"}, etcdStopTimeout); err == nil && serr != nil {
			err = serr
		}
	}
	// Each join gets a fresh peer process: the state etcd leaves in a
	// process after many clusters is not part of what is measured.
	r.closeEtcd()
	if err != nil {
		return 0, err
	}
	return time.Duration(s.ElapsedNs), nil
}
