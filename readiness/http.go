package readiness

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"
	"time"
)

// StatusSource is anything that reports a readiness Status. A
// *raftsync.Node satisfies it, so an application can mount
// ReadyHandler(node) on its own mux.
type StatusSource interface {
	// Readiness returns the current Status. It must not block.
	Readiness() Status
}

// ReadyHandler returns an http.Handler for a readiness probe such as
// /readyz. It answers GET and HEAD (other methods get 405 with an Allow
// header) with 200 and "ready\n" when the state is Ready, and 503 with
// "<state>: <reason>\n" otherwise. With a "verbose" query parameter or an
// Accept header naming application/json, the body is instead a JSON object
// (state, reason, since, applied_index, persisted_index, sync_index,
// commit_index, leader_id, is_leader, ready_at; ready_at is null until the
// first Ready) with the same status code. Responses carry
// Cache-Control: no-store. A nil src answers 503.
func ReadyHandler(src StatusSource) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowProbeMethod(w, r) {
			return
		}
		s, ok := statusOf(src)
		if !ok {
			writeText(w, http.StatusServiceUnavailable, "starting: no status source\n")
			return
		}
		code := http.StatusOK
		if s.State != Ready {
			code = http.StatusServiceUnavailable
		}
		if wantsJSON(r) {
			writeJSON(w, code, newStatusJSON(s))
			return
		}
		if s.State == Ready {
			writeText(w, code, "ready\n")
			return
		}
		writeText(w, code, s.State.String()+": "+s.Reason+"\n")
	})
}

// LiveHandler returns an http.Handler for a liveness probe such as
// /livez: 200 "ok\n" in every state but Closed, which gets 503
// "closed\n". A node that is recovering or catching up is alive and must
// not be restarted for it. It answers GET and HEAD only (405 otherwise).
// A nil src answers 503.
func LiveHandler(src StatusSource) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowProbeMethod(w, r) {
			return
		}
		s, ok := statusOf(src)
		switch {
		case !ok:
			writeText(w, http.StatusServiceUnavailable, "no status source\n")
		case s.State == Closed:
			writeText(w, http.StatusServiceUnavailable, "closed\n")
		default:
			writeText(w, http.StatusOK, "ok\n")
		}
	})
}

// statusJSON is the verbose body of ReadyHandler.
type statusJSON struct {
	State          State      `json:"state"`
	Reason         string     `json:"reason"`
	Since          time.Time  `json:"since"`
	AppliedIndex   uint64     `json:"applied_index"`
	PersistedIndex uint64     `json:"persisted_index"`
	SyncIndex      uint64     `json:"sync_index"`
	CommitIndex    uint64     `json:"commit_index"`
	LeaderID       string     `json:"leader_id"`
	IsLeader       bool       `json:"is_leader"`
	ReadyAt        *time.Time `json:"ready_at"`
}

func newStatusJSON(s Status) statusJSON {
	j := statusJSON{
		State:          s.State,
		Reason:         s.Reason,
		Since:          s.Since,
		AppliedIndex:   s.Applied,
		PersistedIndex: s.Persisted,
		SyncIndex:      s.SyncIndex,
		CommitIndex:    s.CommitIndex,
		LeaderID:       s.LeaderID,
		IsLeader:       s.IsLeader,
	}
	if !s.ReadyAt.IsZero() {
		at := s.ReadyAt
		j.ReadyAt = &at
	}
	return j
}

func statusOf(src StatusSource) (Status, bool) {
	if src == nil {
		return Status{}, false
	}
	return src.Readiness(), true
}

func allowProbeMethod(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	writeText(w, http.StatusMethodNotAllowed, "method not allowed\n")
	return false
}

// wantsJSON reports whether the request asks for the verbose JSON body.
func wantsJSON(r *http.Request) bool {
	if r.URL.Query().Has("verbose") {
		return true
	}
	for _, accept := range r.Header.Values("Accept") {
		for _, part := range strings.Split(accept, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err == nil && mt == "application/json" {
				return true
			}
		}
	}
	return false
}

func writeText(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeText(w, http.StatusInternalServerError, "encode status: "+err.Error()+"\n")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}
