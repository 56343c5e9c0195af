package faultsuite

import (
	"bytes"
	"context"
	"time"

	"github.com/raftkit/raftkit/readiness"
	"github.com/raftkit/raftkit/snapshot"
)

// removedReadyBound is how long a removed member that the network lets
// the leader reach may go on reporting Ready after RemoveServer returned:
// the leader's removal notice (or raft's configuration entry) reaches it
// within a few round trips, retried with backoff of at most 500ms; the
// rest is margin for a loaded machine. The executor checks it when the
// removal ends, removedReadyBound and a little more after it began.
const removedReadyBound = 3 * time.Second

// removedCutOffBound is how long a removed member that was cut off by a
// fault (a partition, a block or stall towards it, a pause) may go on
// reporting Ready: no one can tell it, and the library promises only that
// it stops being Ready once it has heard from no leader for
// LeaderLossBound (the suite's nodes use the default), plus a second of
// slack for the monitor's tick and a loaded machine. The check at the end
// of a removal comes before that, so such a member is not judged there.
const removedCutOffBound = readiness.DefaultLeaderLossBound + time.Second

// removedBound is the bound for member i's current removal.
func (r *run) removedBound(i int) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cutOff[i] {
		return removedCutOffBound
	}
	return removedReadyBound
}

// noteCutOff records whether removed member i is cut off now.
func (r *run) noteCutOff(i int) {
	if r.net == nil || !r.net.CutOffTo(r.name(i)) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cutOff[i] = true
}

// memberOpTimeout bounds a RemoveServer the executor makes.
const memberOpTimeout = 3 * time.Second

func (r *run) isOut(i int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out[i]
}

func (r *run) setOut(i int, out bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out[i] = out
}

// removeMember removes member i from the configuration through another
// member and reports whether the leader's configuration no longer lists
// it. The member's node keeps running.
func (r *run) removeMember(i int) bool {
	m := r.c.Members[i]
	ctx, cancel := context.WithTimeout(context.Background(), memberOpTimeout)
	err := r.c.Remove(ctx, m)
	cancel()
	if err == nil {
		r.note("removed %s", m.ID)
		return true // committed
	}
	// The outcome may be unknown: ask a leader, waiting for one a while.
	present, known := r.inConfiguration(i)
	r.note("remove %s: err=%v; in the leader's configuration: %v (known: %v)", m.ID, err, present, known)
	return known && !present
}

// inConfiguration reports whether the leader's configuration lists member
// i, waiting up to memberOpTimeout for a leader; known is false when none
// answered.
func (r *run) inConfiguration(i int) (present, known bool) {
	deadline := time.Now().Add(memberOpTimeout)
	for {
		present, _, known := r.c.InConfiguration(r.c.Members[i])
		if known || time.Now().After(deadline) {
			return present, known
		}
		<-time.After(20 * time.Millisecond) // no event to wait on for "a leader exists"
	}
}

// beginRemove removes member i, which goes on running (and serving its
// clients) until endRemove. It returns nil when the member was down or out
// already, or the removal could not be confirmed.
func (r *run) beginRemove(i int) []int {
	if r.slots[i].Load() == nil || r.isOut(i) {
		r.note("remove of %s skipped: down or out", r.name(i))
		return nil
	}
	r.mu.Lock()
	r.cutOff[i] = false
	r.mu.Unlock()
	r.noteCutOff(i)
	if !r.removeMember(i) {
		return nil
	}
	r.noteCutOff(i)
	r.setOut(i, true)
	r.mu.Lock()
	r.removedAt[i] = time.Now()
	r.mu.Unlock()
	return []int{i}
}

// endRemove checks that removed member i stopped reporting Ready, closes
// it and adds it back to the cluster with an empty Dir.
func (r *run) endRemove(i int) {
	r.mu.Lock()
	since := time.Since(r.removedAt[i])
	r.mu.Unlock()
	if sl := r.slots[i].Load(); sl != nil {
		r.noteCutOff(i)
		st, bound := sl.node.Readiness(), r.removedBound(i)
		r.note("%s at the end of its removal, %v after it: %s (bound %v)", r.name(i), since.Round(time.Millisecond), st.State, bound)
		if st.State == readiness.Ready && since >= bound {
			r.violation("removed-still-ready", "%s was removed from the configuration %v ago (bound %v) and still reports %s (%s)",
				r.name(i), since.Round(time.Millisecond), bound, st.State, st.Reason)
		}
		r.stopMember(i, false)
	}
	r.markRemoved(i) // also when a crash took it down meanwhile
	r.joinMember(i, i >= r.s.Voters && i < r.s.Members())
}

// markRemoved records that member i's last incarnation ended with its
// removal: its next one starts from an empty Dir, so no read of it is
// compared with reads of the earlier ones.
func (r *run) markRemoved(i int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k := len(r.stops[i]) - 1; k >= 0 {
		r.stops[i][k] = "removed"
	}
}

// joinMember adds member i to the cluster (with an empty Dir when it ran
// before) and reports whether it runs.
func (r *run) joinMember(i int, nonVoter bool) bool {
	m := r.c.Members[i]
	if err := r.c.Join(m, nonVoter); err != nil {
		r.note("join of %s failed: %v", m.ID, err)
		return false
	}
	r.mu.Lock()
	r.out[i] = false
	if r.slots[i].Load() != nil || len(r.stops[i]) > 0 || r.incs[i] > 0 || i < r.s.Members() {
		r.incs[i]++
	}
	inc := r.incs[i]
	r.mu.Unlock()
	r.slots[i].Store(&slot{node: m.Node, fsm: m.FSM.(*FSM), inc: inc})
	r.note("joined %s as a %s (incarnation %d)", m.ID, map[bool]string{false: "voter", true: "non-voter"}[nonVoter], inc)
	return true
}

// beginJoin adds spare i.
func (r *run) beginJoin(i int, nonVoter bool) []int {
	if !r.isOut(i) || !r.joinMember(i, nonVoter) {
		return nil
	}
	return []int{i}
}

// endJoin removes spare i again and closes it; when the removal cannot be
// confirmed it stays a member to the end.
func (r *run) endJoin(i int) {
	if r.slots[i].Load() == nil || !r.removeMember(i) {
		return
	}
	r.setOut(i, true)
	r.stopMember(i, false)
	r.markRemoved(i)
}

// backupOn takes a backup on member i in the background; one that Backup
// reports written must decode (header, snapshot and checksums).
func (r *run) backupOn(i int) {
	sl := r.slots[i].Load()
	if sl == nil {
		r.note("backup on %s skipped: down", r.name(i))
		return
	}
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var buf bytes.Buffer
		err := sl.node.Backup(ctx, &buf)
		r.note("backup on %s: %d bytes, err=%v", r.name(i), buf.Len(), err)
		if err != nil {
			return // no promise when it fails
		}
		h, data, err := snapshot.ReadBackup(&buf, r.t.TempDir())
		if err == nil {
			var payload interface{ Close() error }
			_, payload, err = snapshot.Verify(data, r.t.TempDir())
			if err == nil {
				payload.Close()
			}
			data.Close()
		}
		if err != nil {
			r.violation("backup-bad", "Backup on %s reported success but its output does not decode: %v (header %+v)", r.name(i), err, h)
		}
	}()
}

// isTimeoutNow reports whether a chunk a member sends another looks like
// the start of raft's TimeoutNow request: hashicorp/raft's network
// transport writes the RPC type (rpcTimeoutNow = 3) and the small request
// in one flush. A chunk of a larger message that happens to start with
// that byte may match too; its connection is then held like a stall.
func isTimeoutNow(p []byte) bool { return len(p) > 0 && len(p) < 1024 && p[0] == 3 }

// beginTransferHeld starts a leadership transfer from the leader while
// every TimeoutNow it sends is held (the connection that carries it holds
// from that request on; the rest of the traffic flows, so the target
// catches up and raft sends the TimeoutNow, and raft then reports the
// transfer timed out after ElectionTimeout). It returns the leader.
func (r *run) beginTransferHeld(e Event) []int {
	l := r.leader()
	if l < 0 {
		r.note("transfer-held skipped: no leader")
		return nil
	}
	sl := r.slots[l].Load()
	for o := range r.s.Total() {
		if o != l {
			r.net.StallMatching(r.name(l), r.name(o), isTimeoutNow)
		}
	}
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		err := sl.node.TransferLeadership(ctx)
		r.note("transfer-held from %s: err=%v", r.name(l), err)
	}()
	return []int{l}
}

// releaseTransferHeld holds, from now on, what every other member sends
// the old leader (it learns of a new term from its own timers only), then
// delivers the held TimeoutNow.
func (r *run) releaseTransferHeld(tg []int) {
	l := tg[0]
	for o := range r.s.Total() {
		if o != l {
			r.net.Stall(r.name(o), r.name(l))
		}
	}
	for o := range r.s.Total() {
		if o != l {
			r.net.UnstallMatching(r.name(l), r.name(o))
		}
	}
	r.note("transfer-held: released the TimeoutNow from %s; holding what the others send it", r.name(l))
}

func (r *run) endTransferHeld(tg []int) {
	l := tg[0]
	for o := range r.s.Total() {
		if o != l {
			r.net.Unstall(r.name(o), r.name(l))
			r.net.UnstallMatching(r.name(l), r.name(o))
		}
	}
}
