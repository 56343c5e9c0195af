package readiness_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/raftkit/raftkit/readiness"
)

type fixedStatus readiness.Status

func (f fixedStatus) Readiness() readiness.Status { return readiness.Status(f) }

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	readyStatus = fixedStatus{State: readiness.Ready, Since: epoch, Applied: 150, Persisted: 100,
		SyncIndex: 150, CommitIndex: 151, LeaderID: "n2", ReadyAt: epoch}
	catchingUpStatus = fixedStatus{State: readiness.CatchingUp, Reason: "applied 120 of 4500", Since: epoch,
		Applied: 120, SyncIndex: 4500, LeaderID: "n2"}
	closedStatus  = fixedStatus{State: readiness.Closed, Reason: "node closed", Since: epoch}
	removedStatus = fixedStatus{State: readiness.Removed, Reason: "removed from the cluster configuration", Since: epoch}
)

func TestReadyHandler(t *testing.T) {
	tests := []struct {
		name     string
		src      readiness.StatusSource
		method   string
		target   string
		accept   string
		wantCode int
		wantBody string // exact text body; "" for JSON or HEAD
		wantJSON bool
	}{
		{"ready", readyStatus, http.MethodGet, "/readyz", "", 200, "ready\n", false},
		{"not ready", catchingUpStatus, http.MethodGet, "/readyz", "", 503, "catching_up: applied 120 of 4500\n", false},
		{"closed", closedStatus, http.MethodGet, "/readyz", "", 503, "closed: node closed\n", false},
		{"removed", removedStatus, http.MethodGet, "/readyz", "", 503, "removed: removed from the cluster configuration\n", false},
		{"head", readyStatus, http.MethodHead, "/readyz", "", 200, "", false},
		{"post", readyStatus, http.MethodPost, "/readyz", "", 405, "method not allowed\n", false},
		{"verbose query", catchingUpStatus, http.MethodGet, "/readyz?verbose", "", 503, "", true},
		{"accept json", readyStatus, http.MethodGet, "/readyz", "text/html;q=0.9, application/json; charset=utf-8", 200, "", true},
		{"nil source", nil, http.MethodGet, "/readyz", "", 503, "starting: no status source\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, nil)
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			rec := httptest.NewRecorder()
			readiness.ReadyHandler(tt.src).ServeHTTP(rec, req)
			if rec.Code != tt.wantCode {
				t.Fatalf("code %d, want %d", rec.Code, tt.wantCode)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			if tt.wantCode == 405 && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q, want GET, HEAD", rec.Header().Get("Allow"))
			}
			if tt.wantJSON {
				checkStatusJSON(t, rec, readiness.Status(tt.src.(fixedStatus)))
				return
			}
			if tt.method != http.MethodHead && rec.Body.String() != tt.wantBody {
				t.Fatalf("body %q, want %q", rec.Body.String(), tt.wantBody)
			}
		})
	}
}

func checkStatusJSON(t *testing.T, rec *httptest.ResponseRecorder, want readiness.Status) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	var got struct {
		State          readiness.State `json:"state"`
		Reason         string          `json:"reason"`
		Since          time.Time       `json:"since"`
		AppliedIndex   uint64          `json:"applied_index"`
		PersistedIndex uint64          `json:"persisted_index"`
		SyncIndex      uint64          `json:"sync_index"`
		CommitIndex    uint64          `json:"commit_index"`
		LeaderID       string          `json:"leader_id"`
		IsLeader       bool            `json:"is_leader"`
		ReadyAt        *time.Time      `json:"ready_at"`
	}
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
	if got.State != want.State || got.Reason != want.Reason || !got.Since.Equal(want.Since) ||
		got.AppliedIndex != want.Applied || got.PersistedIndex != want.Persisted || got.SyncIndex != want.SyncIndex ||
		got.CommitIndex != want.CommitIndex || got.LeaderID != want.LeaderID || got.IsLeader != want.IsLeader {
		t.Fatalf("JSON %+v does not match status %+v", got, want)
	}
	if (got.ReadyAt == nil) != want.ReadyAt.IsZero() || (got.ReadyAt != nil && !got.ReadyAt.Equal(want.ReadyAt)) {
		t.Fatalf("ready_at %v, want %v (null when zero)", got.ReadyAt, want.ReadyAt)
	}
}

func TestLiveHandler(t *testing.T) {
	tests := []struct {
		name     string
		src      readiness.StatusSource
		method   string
		wantCode int
		wantBody string
	}{
		{"ready", readyStatus, http.MethodGet, 200, "ok\n"},
		{"catching up is alive", catchingUpStatus, http.MethodGet, 200, "ok\n"},
		{"closed", closedStatus, http.MethodGet, 503, "closed\n"},
		{"delete", readyStatus, http.MethodDelete, 405, "method not allowed\n"},
		{"nil source", nil, http.MethodGet, 503, "no status source\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			readiness.LiveHandler(tt.src).ServeHTTP(rec, httptest.NewRequest(tt.method, "/livez", nil))
			if rec.Code != tt.wantCode || rec.Body.String() != tt.wantBody {
				t.Fatalf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tt.wantCode, tt.wantBody)
			}
		})
	}
}

// TestReadyHandlerFollowsSource: the handler asks its source on every
// request, so it follows the node's state as it changes.
func TestReadyHandlerFollowsSource(t *testing.T) {
	src := &probeSource{status: readiness.Status{State: readiness.Starting, Reason: "waiting for local recovery to begin"}}
	h := readiness.ReadyHandler(src)
	get := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code
	}
	if code := get(); code != 503 {
		t.Fatalf("starting source: %d, want 503", code)
	}
	src.status = readiness.Status(readyStatus)
	if code := get(); code != 200 {
		t.Fatalf("ready source: %d, want 200", code)
	}
}
