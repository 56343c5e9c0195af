package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"time"
)

// Bounds of the fault loop.
const (
	calmMin, calmMax = 1 * time.Second, 4 * time.Second // all nodes up between faults
	// killFast bounds the short downtimes: a restart inside raftsync's
	// 600 ms vote fence.
	killFastMin, killFastMax = 100 * time.Millisecond, 600 * time.Millisecond
	killSlowMax              = 4 * time.Second
	secondFaultMaxDelay      = time.Second // the second fault of a pair starts within this
	recoveryBound            = 60 * time.Second
)

// action is one fault on one node.
type action struct {
	Node   string `json:"node"`
	Leader bool   `json:"leader"` // the node led when the fault was chosen
	Kind   string `json:"kind"`   // "kill" or "pause"
	// DelayMS is when the action started after the fault's start; HoldMS
	// how long the node stayed down or paused.
	DelayMS int64  `json:"delay_ms"`
	HoldMS  int64  `json:"hold_ms"`
	Err     string `json:"err,omitempty"`
}

// fault is one round of the nemesis: one action, or two overlapping ones
// on different nodes (never all three).
type fault struct {
	N    int      `json:"n"`
	AtMS int64    `json:"at_ms"` // since the campaign's start
	Name string   `json:"name"`  // kill, kill-leader, pause, pause-leader, kill+pause, pause+pause, kill+kill
	Acts []action `json:"actions"`
	// RecoveryMS is the time from the last action's end until every node
	// answered /readyz 200; NotReady lists the nodes that did not within
	// recoveryBound, or whose process exited by itself.
	RecoveryMS int64    `json:"recovery_ms"`
	NotReady   []string `json:"not_ready,omitempty"`
}

// nemesis injects process faults, one round at a time, from a seeded
// random source: the same seed draws the same sequence of choices (which
// node, which fault, how long), though which node leads when depends on
// the run.
type nemesis struct {
	c               *cluster
	rng             *rand.Rand
	electionTimeout time.Duration
	start           time.Time
	log             func(format string, args ...any)

	mu     sync.Mutex
	faults []fault
}

func (n *nemesis) record(f fault) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults = append(n.faults, f)
}

// Faults returns the rounds run so far.
func (n *nemesis) Faults() []fault {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]fault(nil), n.faults...)
}

func (n *nemesis) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(n.rng.Int64N(int64(hi-lo)+1))
}

// killHold draws a downtime: 40% inside the vote fence, else up to
// killSlowMax.
func (n *nemesis) killHold() time.Duration {
	if n.rng.Float64() < 0.4 {
		return n.between(killFastMin, killFastMax)
	}
	return n.between(killFastMax, killSlowMax)
}

// pauseHold draws a pause: 65% past an election (2.5 to 6 election
// timeouts: raft's followers wait one to two), 10% past the clients'
// timeout too (so that requests sent to the paused node end
// indeterminate), else a stall shorter than one election timeout.
func (n *nemesis) pauseHold() time.Duration {
	t := n.electionTimeout
	switch r := n.rng.Float64(); {
	case r < 0.65:
		return n.between(5*t/2, 6*t)
	case r < 0.75:
		return n.between(clientTimeout+time.Second, clientTimeout+4*time.Second)
	}
	return n.between(t/5, t)
}

// run injects faults until end (no new round starts after it) or ctx
// ends. Ending ctx cuts the current round's holds short; its faults are
// undone all the same.
func (n *nemesis) run(ctx context.Context, end time.Time) {
	for i := 0; ; i++ {
		calm := n.between(calmMin, calmMax)
		select {
		case <-ctx.Done():
			return
		case <-time.After(calm): // the calm period is part of the schedule, not a wait for a condition
		}
		if time.Now().After(end) {
			return
		}
		f := n.round(ctx, i)
		n.record(f)
		if ctx.Err() != nil {
			return
		}
	}
}

// round draws and runs one fault, undoes it and waits for recovery.
func (n *nemesis) round(ctx context.Context, i int) fault {
	f := fault{N: i, AtMS: time.Since(n.start).Milliseconds()}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	leader := n.c.leader(lctx)
	cancel()
	pick := func(exclude *node) *node {
		for {
			nd := n.c.nodes[n.rng.IntN(len(n.c.nodes))]
			if nd != exclude {
				return nd
			}
		}
	}
	type plan struct {
		nd    *node
		kind  string
		delay time.Duration
		hold  time.Duration
	}
	var plans []plan
	one := func(kind string, nd *node, delay time.Duration) {
		hold := n.killHold()
		if kind == "pause" {
			hold = n.pauseHold()
		}
		plans = append(plans, plan{nd, kind, delay, hold})
	}
	// Draw every random choice before anything happens, in a fixed order,
	// so that the seed alone decides them.
	r := n.rng.Float64()
	target := pick(nil)
	other := pick(target)
	delay := n.between(0, secondFaultMaxDelay)
	orLeader := func() *node {
		if leader != nil {
			return leader
		}
		return target
	}
	switch {
	case r < 0.25:
		f.Name = "kill"
		one("kill", target, 0)
	case r < 0.45:
		f.Name = "kill-leader"
		one("kill", orLeader(), 0)
	case r < 0.65:
		f.Name = "pause"
		one("pause", target, 0)
	case r < 0.85:
		f.Name = "pause-leader"
		one("pause", orLeader(), 0)
	default:
		first := orLeader()
		second := other
		if second == first {
			second = target
		}
		kinds := [][2]string{{"kill", "pause"}, {"pause", "pause"}, {"kill", "kill"}, {"pause", "kill"}}[n.rng.IntN(4)]
		f.Name = kinds[0] + "+" + kinds[1]
		one(kinds[0], first, 0)
		one(kinds[1], second, delay)
	}

	acts := make([]action, len(plans))
	var wg sync.WaitGroup
	for j, p := range plans {
		acts[j] = action{Node: p.nd.id, Leader: p.nd == leader, Kind: p.kind, DelayMS: p.delay.Milliseconds(), HoldMS: p.hold.Milliseconds()}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.act(ctx, p.nd, p.kind, p.delay, p.hold); err != nil {
				acts[j].Err = err.Error()
			}
		}()
	}
	wg.Wait()
	f.Acts = acts
	healed := time.Now()
	if ctx.Err() != nil {
		return f
	}
	missing := n.c.waitReady(ctx, recoveryBound, n.c.nodes...)
	f.RecoveryMS = time.Since(healed).Milliseconds()
	for _, nd := range missing {
		f.NotReady = append(f.NotReady, ids([]*node{nd}))
	}
	desc := ""
	for _, a := range acts {
		l := ""
		if a.Leader {
			l = "(leader)"
		}
		desc += fmt.Sprintf(" %s %s%s %dms", a.Kind, a.Node, l, a.HoldMS)
	}
	if len(missing) > 0 {
		n.log("fault %d %s:%s — NOT READY: %s", i, f.Name, desc, ids(missing))
	} else {
		n.log("fault %d %s:%s — all ready %dms after", i, f.Name, desc, f.RecoveryMS)
	}
	return f
}

// act runs one action: after delay, kill -9 nd and restart it from the same
// directory after hold, or SIGSTOP it and SIGCONT it after hold. The undo
// always runs, early when ctx ends.
func (n *nemesis) act(ctx context.Context, nd *node, kind string, delay, hold time.Duration) error {
	sleep := func(d time.Duration) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C: // the fault's scheduled length
		}
	}
	sleep(delay)
	switch kind {
	case "kill":
		if err := nd.kill(); err != nil {
			return err
		}
		sleep(hold)
		return n.c.start(nd)
	case "pause":
		if err := nd.signal(syscall.SIGSTOP); err != nil {
			return err
		}
		sleep(hold)
		return nd.signal(syscall.SIGCONT)
	}
	return fmt.Errorf("unknown action %q", kind)
}
