package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/raftkit/raftkit/examples/gateway/route"
)

// headerIndex is the response header carrying the raft index.
const headerIndex = "X-Raft-Index"

// errorBody is the JSON every error response carries.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	body := errorBody{Error: err.Error()}
	var ve *route.ValidationError
	if errors.As(err, &ve) {
		body.Error, body.Field = ve.Reason, ve.Field
	}
	writeJSON(w, code, body)
}

func setIndex(w http.ResponseWriter, index uint64) {
	w.Header().Set(headerIndex, strconv.FormatUint(index, 10))
}

// indexWriter sets X-Raft-Index to the node's applied index on responses
// whose handler did not set it (errors, probes, status).
type indexWriter struct {
	http.ResponseWriter
	applied func() uint64
	wrote   bool
}

func (w *indexWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if w.Header().Get(headerIndex) == "" {
			setIndex(w.ResponseWriter, w.applied())
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *indexWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *indexWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
