package faultsuite

import (
	"context"
	"sort"
	"time"
)

// action is the start, the release (TransferHeld) or the end of one
// event.
type action struct {
	at      time.Duration
	event   int
	end     bool
	release bool
}

// execute plays the schedule's events against the cluster on the wall
// clock, from now, and returns when the window is over.
func (r *run) execute() {
	var acts []action
	for i, e := range r.s.Events {
		acts = append(acts, action{at: e.At, event: i})
		if e.Release > 0 {
			acts = append(acts, action{at: e.At + e.Release, event: i, release: true})
		}
		if e.For > 0 {
			acts = append(acts, action{at: e.At + e.For, event: i, end: true})
		}
	}
	sort.SliceStable(acts, func(i, j int) bool { return acts[i].at < acts[j].at })
	// resolved[i] holds the members event i acted on, for its end.
	resolved := make([][]int, len(r.s.Events))
	begin := time.Now()
	for _, a := range acts {
		if wait := time.Until(begin.Add(a.at)); wait > 0 {
			<-time.After(wait) // the schedule's clock
		}
		e := r.s.Events[a.event]
		switch {
		case a.release:
			if tg := resolved[a.event]; tg != nil {
				r.releaseTransferHeld(tg)
			}
		case a.end:
			r.undo(e, resolved[a.event])
		default:
			resolved[a.event] = r.do(e)
		}
	}
	if wait := time.Until(begin.Add(r.s.Window)); wait > 0 {
		<-time.After(wait)
	}
}

// targets resolves an event's members: the current leader for the
// *Leader kinds (falling back to the event's own choice), else Nodes.
func (r *run) targets(e Event) []int {
	switch e.Kind {
	case IsolateLeader, PauseLeader, CrashLeader:
		if l := r.leader(); l >= 0 {
			return []int{l}
		}
	}
	return e.Nodes
}

func (r *run) others(i int) []int {
	var out []int
	for j := range r.s.Members() {
		if j != i {
			out = append(out, j)
		}
	}
	return out
}

// acrossPartition lists the member pairs a partition that puts the
// members in side apart from the rest separates.
func (r *run) acrossPartition(side []int) [][2]string {
	in := map[int]bool{}
	for _, i := range side {
		in[i] = true
	}
	var pairs [][2]string
	for _, a := range side {
		for b := range r.s.Members() {
			if !in[b] {
				pairs = append(pairs, [2]string{r.name(a), r.name(b)})
			}
		}
	}
	return pairs
}

// do starts event e and returns the members it acted on; nil when it was
// skipped (a crash of a member already down).
func (r *run) do(e Event) []int {
	tg := r.targets(e)
	x := tg[0]
	switch e.Kind {
	case Partition:
		for _, p := range r.acrossPartition(tg) {
			r.net.Cut(p[0], p[1])
		}
	case IsolateLeader:
		for _, o := range r.others(x) {
			r.net.Cut(r.name(x), r.name(o))
		}
	case Block:
		r.net.Block(r.name(x), r.name(e.Peer))
	case Stall:
		r.net.Stall(r.name(x), r.name(e.Peer))
	case Delay:
		for _, o := range r.others(x) {
			r.net.SetDelay(r.name(x), r.name(o), e.Delay, e.Jitter)
			r.net.SetDelay(r.name(o), r.name(x), e.Delay, e.Jitter)
		}
	case Flaky:
		for _, o := range r.others(x) {
			r.net.SetResetRate(r.name(x), r.name(o), e.Rate)
			r.net.SetResetRate(r.name(o), r.name(x), e.Rate)
		}
	case Reset:
		for _, o := range r.others(x) {
			r.net.Reset(r.name(x), r.name(o))
		}
	case Pause, PauseLeader:
		r.net.Pause(r.name(x))
	case Crash, CrashLeader, Restart:
		if !r.stopMember(x, e.Kind != Restart) {
			r.note("%s of %s skipped: already down", e.Kind, r.name(x))
			return nil
		}
	case Transfer:
		l := r.leader()
		if l < 0 {
			r.note("transfer skipped: no leader")
			return nil
		}
		tg = []int{l}
		if sl := r.slots[l].Load(); sl != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			err := sl.node.TransferLeadership(ctx)
			cancel()
			r.note("transfer from %s: err=%v", r.name(l), err)
		}
	case DiskFull, DiskStall, DiskPartial, VoteFail:
		if e.AllDisks {
			tg = r.others(-1)
		}
		for _, i := range tg {
			r.disks[i].Set(diskMode(e.Kind), e.Delay)
		}
	case FastRestart:
		if r.isOut(x) || !r.stopMember(x, true) {
			r.note("%s of %s skipped: already down or out", e.Kind, r.name(x))
			return nil
		}
	case TransferHeld:
		if tg = r.beginTransferHeld(e); tg == nil {
			return nil
		}
	case Remove:
		if tg = r.beginRemove(x); tg == nil {
			return nil
		}
	case Join:
		if tg = r.beginJoin(x, e.NonVoter); tg == nil {
			r.note("join of %s skipped or failed", r.name(x))
			return nil
		}
	case Backup:
		r.backupOn(x)
	}
	r.mu.Lock()
	r.faults[e.Kind]++
	r.mu.Unlock()
	r.note("begin %s on %v", e.Kind, tg)
	return tg
}

// undo ends event e, which acted on tg.
func (r *run) undo(e Event, tg []int) {
	if tg == nil {
		return
	}
	x := tg[0]
	switch e.Kind {
	case Partition:
		for _, p := range r.acrossPartition(tg) {
			r.net.Uncut(p[0], p[1])
		}
	case IsolateLeader:
		for _, o := range r.others(x) {
			r.net.Uncut(r.name(x), r.name(o))
		}
	case Block:
		r.net.Unblock(r.name(x), r.name(e.Peer))
	case Stall:
		r.net.Unstall(r.name(x), r.name(e.Peer))
	case Delay:
		for _, o := range r.others(x) {
			r.net.SetDelay(r.name(x), r.name(o), 0, 0)
			r.net.SetDelay(r.name(o), r.name(x), 0, 0)
		}
	case Flaky:
		for _, o := range r.others(x) {
			r.net.SetResetRate(r.name(x), r.name(o), 0)
			r.net.SetResetRate(r.name(o), r.name(x), 0)
		}
	case Pause, PauseLeader:
		r.net.Resume(r.name(x))
	case Crash, CrashLeader, Restart:
		r.startMember(x)
	case DiskFull, DiskStall, DiskPartial, VoteFail:
		for _, i := range tg {
			r.disks[i].Set(DiskOK, 0)
		}
	case FastRestart:
		r.startMemberAfter(x, 0)
	case TransferHeld:
		r.endTransferHeld(tg)
	case Remove:
		r.endRemove(x)
	case Join:
		r.endJoin(x)
	}
	r.note("end %s on %v", e.Kind, tg)
}

func diskMode(k Kind) DiskMode {
	switch k {
	case DiskFull:
		return DiskFailWrites
	case DiskStall:
		return DiskSlowWrites
	case DiskPartial:
		return DiskPartialWrites
	case VoteFail:
		return DiskRefuseVotes
	}
	return DiskOK
}

// heal ends every fault: the network is healed, every disk works and every
// member that is down starts again.
func (r *run) heal() {
	r.healedAt = time.Now()
	r.net.Heal()
	for _, d := range r.disks {
		d.Set(DiskOK, 0)
	}
	for i := range r.slots {
		if r.slots[i].Load() == nil && !r.startMember(i) {
			r.violation("restart-failed", "%s could not be restarted from its Dir after every fault had ended (see the notes)", r.name(i))
		}
	}
	// A member removed and not yet back (its Remove's end was skipped, or
	// its join failed) joins again now; a removed member still running
	// (its end has not come) is closed first. Spares stay out.
	for i := range r.s.Members() {
		if !r.isOut(i) && r.slots[i].Load() != nil {
			// A removal whose outcome the executor could not learn
			// may have happened after all.
			if present, known := r.inConfiguration(i); known && !present {
				r.note("%s is not in the configuration: a removal took effect after all", r.name(i))
				r.setOut(i, true)
			}
		}
		if !r.isOut(i) {
			continue
		}
		if r.slots[i].Load() != nil {
			r.stopMember(i, false)
			r.markRemoved(i)
		}
		if !r.joinMember(i, i >= r.s.Voters) {
			r.violation("restart-failed", "%s could not join the cluster again after its removal, once every fault had ended (see the notes)", r.name(i))
		}
	}
	r.note("healed")
}

// settle lets the workload run on the healed cluster for a moment, then
// stops the clients and waits for their last operations.
func (r *run) settle(stop chan struct{}, clients interface{ Wait() }) {
	<-time.After(time.Second)
	close(stop)
	clients.Wait()
}
