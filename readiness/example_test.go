package readiness_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/raftkit/raftkit/readiness"
)

// probeSource stands in for a *raftsync.Node, which satisfies
// readiness.StatusSource.
type probeSource struct{ status readiness.Status }

func (p *probeSource) Readiness() readiness.Status { return p.status }

// The readiness probe answers 503 with the reason until the node is Ready.
func ExampleReadyHandler() {
	node := &probeSource{status: readiness.Status{State: readiness.Recovered, Reason: "waiting for a leader"}}
	probe := func() {
		rec := httptest.NewRecorder()
		readiness.ReadyHandler(node).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	probe()
	node.status = readiness.Status{State: readiness.Ready, Applied: 7, SyncIndex: 7}
	probe()
	// Output:
	// 503 recovered: waiting for a leader
	// 200 ready
}
