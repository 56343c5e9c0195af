package raftsync_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/internal/testutil"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
)

// getStatus GETs a StatusHandler over HTTP and decodes it both into
// raftsync.Status and into a plain map (the names a client sees).
func getStatus(t *testing.T, url string) (raftsync.Status, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET status: %s, %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	var st raftsync.Status
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return st, m
}

// TestStatusHandler: the handler serves Status as JSON with the documented
// names: membership, leader, indices, readiness, a follower's last contact
// and the leader's lease.
func TestStatusHandler(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	leader := c.Leader()
	follower := c.Followers()[0]
	mustApply(t, follower, testcluster.Set("k", "v"))
	ctx := ctxTimeout(t, 10*time.Second)
	testutil.WaitFor(t, 10*time.Second, "the leader holds a lease", func() bool {
		if _, err := leader.Node.ReadIndex(ctx, consistency.Lease); err != nil {
			t.Fatal(err)
		}
		return leader.Node.Status().Lease.Held
	})

	ls := httptest.NewServer(leader.Node.StatusHandler())
	defer ls.Close()
	fs := httptest.NewServer(follower.Node.StatusHandler())
	defer fs.Close()

	st, raw := getStatus(t, ls.URL)
	if st.ID != leader.ID || st.State != "Leader" || st.LeaderID != leader.ID || st.ClusterID == "" {
		t.Errorf("leader status: %+v", st)
	}
	if st.Readiness.State != readiness.Ready || st.CommitIndex == 0 || st.AppliedIndex == 0 || st.LastIndex < st.CommitIndex {
		t.Errorf("leader indices/readiness: %+v", st)
	}
	if !st.Lease.Held || st.Lease.Remaining <= 0 || st.Lease.LastConfirmed.IsZero() || st.Lease.LastConfirmedTerm != st.Term {
		t.Errorf("leader lease: %+v", st.Lease)
	}
	if len(st.Members) != 3 {
		t.Errorf("members: %+v", st.Members)
	}
	for _, m := range st.Members {
		if m.NonVoter || m.ID == "" || m.Addr == "" {
			t.Errorf("member %+v", m)
		}
	}
	if st.Membership.Role != raftsync.RoleVoter {
		t.Errorf("membership %+v", st.Membership)
	}
	// The names a JSON client reads.
	for _, k := range []string{"id", "cluster_id", "addr", "role", "leader_id", "leader_addr", "term", "commit_index",
		"applied_index", "persisted_index", "last_index", "members", "readiness", "membership", "cluster", "lease"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("status JSON has no %q: %v", k, raw)
		}
	}
	if _, ok := raw["last_contact"]; ok {
		t.Errorf("the leader reports a last contact: %v", raw["last_contact"])
	}
	if m := raw["members"].([]any)[0].(map[string]any); m["voter"] != true {
		t.Errorf("member JSON %v", m)
	}
	if rd := raw["readiness"].(map[string]any); rd["state"] != "ready" {
		t.Errorf("readiness JSON %v", rd)
	}

	fst, _ := getStatus(t, fs.URL)
	if fst.State != "Follower" || fst.LeaderID != leader.ID || fst.LastContact.IsZero() || fst.Lease.Held {
		t.Errorf("follower status: %+v", fst)
	}

	resp, err := http.Post(ls.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %s", resp.Status)
	}
}

// TestMembershipText: Membership is a string in JSON and reads back.
func TestMembershipText(t *testing.T) {
	at := time.Date(2026, 1, 2, 15, 4, 5, 6, time.UTC)
	for _, m := range []raftsync.Membership{{Role: raftsync.RoleVoter}, {Role: raftsync.RoleVoter, PromotedAt: at}, {Role: raftsync.RoleJoiningAsVoter}} {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back raftsync.Membership
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.Role != m.Role || !back.PromotedAt.Equal(m.PromotedAt) {
			t.Errorf("%s: read back %+v", b, back)
		}
	}
	var m raftsync.Membership
	if err := m.UnmarshalText([]byte("voter, promoted at yesterday")); err == nil {
		t.Error("a bad promotion time was accepted")
	}
}
