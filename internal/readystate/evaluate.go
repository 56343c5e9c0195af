package readystate

import (
	"fmt"
	"time"

	"github.com/raftkit/raftkit/readiness"
)

// evaluateLocked applies the readiness rules to o at time now and returns
// the next Status. It updates the Tracker's memory (closed, everReady, the
// lost and unsynced clocks, the reached sync point). t.mu is held.
func (t *Tracker) evaluateLocked(o Observation, now time.Time) readiness.Status {
	prev := t.status
	next := readiness.Status{
		Applied:     o.Applied,
		Persisted:   o.Persisted,
		CommitIndex: o.CommitIndex,
		LeaderID:    o.LeaderID,
		IsLeader:    o.IsLeader,
		ReadyAt:     prev.ReadyAt,
		RecoveredAt: prev.RecoveredAt,
	}
	t.trackLossLocked(o, now)

	switch {
	case o.Closed:
		t.closed = true
		next.State, next.Reason = readiness.Closed, "node closed"
	case o.Removed:
		next.State, next.Reason = readiness.Removed, "removed from the cluster configuration"
	case !t.everReady:
		next.State, next.Reason = startupState(o)
	default:
		next.State, next.Reason = t.servingStateLocked(o, now)
	}

	if next.State == readiness.Ready {
		if !t.everReady {
			t.everReady = true
			next.ReadyAt = now
		}
		if o.SyncKnown && o.Applied >= o.SyncIndex {
			t.syncReached = o.SyncIndex
		}
		next.SyncIndex = t.syncReached
	} else if o.SyncKnown {
		next.SyncIndex = o.SyncIndex
	} else {
		next.SyncIndex = t.syncReached
	}
	if next.RecoveredAt.IsZero() && recoveredOrLater(next.State) {
		next.RecoveredAt = now
	}
	if next.State == prev.State {
		next.Since = prev.Since
	} else {
		next.Since = now
	}
	return next
}

// startupState decides the state of a node that has never been Ready.
func startupState(o Observation) (readiness.State, string) {
	switch {
	case o.Recovering:
		reason := "recovering local state"
		if o.Persisted > 0 {
			reason = fmt.Sprintf("recovering local state: applied %d of %d", o.Applied, o.Persisted)
		}
		return readiness.Recovering, withProgress(reason, o.Progress)
	case !o.Recovered:
		return readiness.Starting, withProgress("waiting for local recovery to begin", o.Progress)
	case !leaderKnown(o):
		return readiness.Recovered, withProgress("waiting for a leader", o.Progress)
	case !o.SyncKnown:
		return readiness.Recovered, withProgress(waitingForSyncReason(o), o.Progress)
	case o.Applied < o.SyncIndex:
		return readiness.CatchingUp, withProgress(fmt.Sprintf("applied %d of %d", o.Applied, o.SyncIndex), o.Progress)
	default:
		return readiness.Ready, ""
	}
}

// trackLossLocked starts or clears the clocks that measure how long a node
// has been without its leader and without a reached sync point. They are
// driven by the time of each Update, not by how many Updates arrive.
func (t *Tracker) trackLossLocked(o Observation, now time.Time) {
	if !o.IsLeader && o.LeaderID == "" {
		if t.lostSince.IsZero() {
			t.lostSince = now
		}
	} else {
		t.lostSince = time.Time{}
	}
	if leaderKnown(o) && (!o.SyncKnown || o.Applied < o.SyncIndex) {
		if t.unsyncedSince.IsZero() {
			t.unsyncedSince = now
		}
	} else {
		t.unsyncedSince = time.Time{}
	}
}

// issue is one reason a serving node is not fully healthy. A severe issue
// degrades a Ready node; a mild one only keeps a Degraded node Degraded.
type issue struct {
	reason string
	severe bool
}

// servingStateLocked decides between Ready and Degraded for a node that has
// been Ready before. A Ready node stays Ready through mild issues (a leader
// change or a new sync point inside LeaderLossBound); a Degraded node returns
// to Ready only when it has no issue at all.
func (t *Tracker) servingStateLocked(o Observation, now time.Time) (readiness.State, string) {
	issues := t.issuesLocked(o, now)
	for _, is := range issues {
		if is.severe {
			return readiness.Degraded, is.reason
		}
	}
	if len(issues) > 0 && t.status.State == readiness.Degraded {
		return readiness.Degraded, issues[0].reason
	}
	return readiness.Ready, ""
}

// issuesLocked lists what stands between a serving node and full health, in
// order of importance.
func (t *Tracker) issuesLocked(o Observation, now time.Time) []issue {
	bound := t.policy.LeaderLossBound
	var issues []issue
	if o.CommitIndex > o.Applied && o.CommitIndex-o.Applied > t.policy.MaxLag {
		issues = append(issues, issue{severe: true, reason: fmt.Sprintf(
			"applied index %d is %d behind commit index %d (max lag %d)",
			o.Applied, o.CommitIndex-o.Applied, o.CommitIndex, t.policy.MaxLag)})
	}
	if o.Applied < t.syncReached {
		issues = append(issues, issue{severe: true, reason: fmt.Sprintf(
			"applied index %d is below the sync point %d already reached", o.Applied, t.syncReached)})
	}
	switch {
	case o.IsLeader:
	case o.LeaderID == "":
		lost := now.Sub(t.lostSince) > bound
		issues = append(issues, issue{severe: lost, reason: boundReason("leader unknown", lost, bound)})
	case !o.LastContact.IsZero() && now.Sub(o.LastContact) > bound:
		issues = append(issues, issue{severe: true, reason: boundReason(
			fmt.Sprintf("no contact with leader %s", o.LeaderID), true, bound)})
	}
	if leaderKnown(o) && (!o.SyncKnown || o.Applied < o.SyncIndex) {
		reason := waitingForSyncReason(o)
		if o.SyncKnown {
			reason = fmt.Sprintf("applied %d of sync point %d", o.Applied, o.SyncIndex)
		}
		unsynced := now.Sub(t.unsyncedSince) > bound
		issues = append(issues, issue{severe: unsynced, reason: boundReason(reason, unsynced, bound)})
	}
	return issues
}

func leaderKnown(o Observation) bool { return o.IsLeader || o.LeaderID != "" }

func waitingForSyncReason(o Observation) string {
	if o.IsLeader {
		return "waiting for an entry of this leader's term to be applied"
	}
	return fmt.Sprintf("waiting for the sync point from leader %s", o.LeaderID)
}

// boundReason appends "for more than <bound>" once a condition has lasted
// beyond the bound. The text does not grow with time, so a ticker calling
// Update does not make the Reason, and so the watchers, churn.
func boundReason(what string, beyond bool, bound time.Duration) string {
	if !beyond {
		return what
	}
	return fmt.Sprintf("%s for more than %v", what, bound)
}

func withProgress(reason, progress string) string {
	if progress == "" {
		return reason
	}
	return reason + " (" + progress + ")"
}
