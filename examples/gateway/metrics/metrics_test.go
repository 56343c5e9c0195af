package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/goleak"

	"github.com/raftkit/raftkit/examples/gateway/metrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestExpositionFormat(t *testing.T) {
	var r metrics.Registry
	n := 0.0
	r.Value("b_total", "second\nline", metrics.Counter, func() float64 { n++; return n })
	r.Add("a_state", "labelled", metrics.Gauge, func() []metrics.Sample {
		return []metrics.Sample{{Labels: `s="x"`, Value: 1}, {Labels: `s="y"`, Value: 0.5}}
	})
	for want, scrape := range []string{"1", "2"} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		exp := "# HELP a_state labelled\n# TYPE a_state gauge\na_state{s=\"x\"} 1\na_state{s=\"y\"} 0.5\n" +
			"# HELP b_total second line\n# TYPE b_total counter\nb_total " + scrape + "\n"
		if rec.Code != 200 || rec.Body.String() != exp {
			t.Fatalf("scrape %d: %d\n%s\nwant\n%s", want, rec.Code, rec.Body, exp)
		}
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("POST", "/metrics", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", rec.Code)
	}
}

func TestBadRegistrationsPanic(t *testing.T) {
	for name, f := range map[string]func(r *metrics.Registry){
		"invalid name": func(r *metrics.Registry) { r.Value("bad-name", "", metrics.Gauge, func() float64 { return 0 }) },
		"digit first":  func(r *metrics.Registry) { r.Value("1x", "", metrics.Gauge, func() float64 { return 0 }) },
		"twice": func(r *metrics.Registry) {
			r.Value("x", "", metrics.Gauge, func() float64 { return 0 })
			r.Value("x", "", metrics.Gauge, func() float64 { return 0 })
		},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f(&metrics.Registry{})
		})
	}
}
