package route_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/raftkit/raftkit/examples/gateway/route"
)

func TestDecodeRouteAcceptsAndNormalizes(t *testing.T) {
	r, err := route.DecodeRoute(strings.NewReader(`{
		"host": "API.Example.com.",
		"upstreams": [{"url": "http://127.0.0.1:9001"}, {"url": "https://10.0.0.2/base", "weight": 0}],
		"timeout_ms": 2500, "retries": 2, "strip_prefix": true,
		"set_headers": {"x-team": "payments"}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := route.Route{
		Host:       "api.example.com",
		PathPrefix: "/",
		Upstreams:  []route.Upstream{{URL: "http://127.0.0.1:9001", Weight: 1}, {URL: "https://10.0.0.2/base", Weight: 0}},
		TimeoutMS:  2500, Retries: 2, StripPrefix: true,
		SetHeaders: map[string]string{"X-Team": "payments"},
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("got %+v\nwant %+v", r, want)
	}
}

func TestDecodeRouteRefusesBadInput(t *testing.T) {
	up := `"upstreams":[{"url":"http://127.0.0.1:9001"}]`
	cases := []struct {
		name, body, field, reason string
	}{
		{"empty body", ``, "", "empty"},
		{"null", `null`, "", "JSON object"},
		{"array", `[]`, "", "JSON object"},
		{"malformed", `{"path_prefix": "/a",`, "", "truncated"},
		{"syntax", `{"path_prefix": /a}`, "", "malformed JSON"},
		{"trailing data", `{` + up + `} {}`, "", "after the JSON object"},
		{"unknown field", `{"path_prefix":"/a","upstream":[],` + up + `}`, "upstream", "unknown field"},
		{"unknown nested field", `{"upstreams":[{"url":"http://a:1","wieght":2}]}`, "wieght", "unknown field"},
		{"wrong type", `{"path_prefix": 5,` + up + `}`, "path_prefix", "expected string"},
		{"no upstreams", `{"path_prefix":"/a"}`, "upstreams", "at least one"},
		{"empty upstreams", `{"path_prefix":"/a","upstreams":[]}`, "upstreams", "at least one"},
		{"bad scheme", `{"upstreams":[{"url":"ftp://a:1"}]}`, "upstreams[0].url", "scheme"},
		{"relative url", `{"upstreams":[{"url":"/just/a/path"}]}`, "upstreams[0].url", "scheme"},
		{"no host", `{"upstreams":[{"url":"http://"}]}`, "upstreams[0].url", "no host"},
		{"unparsable url", `{"upstreams":[{"url":"http://a b:1"}]}`, "upstreams[0].url", "does not parse"},
		{"user info", `{"upstreams":[{"url":"http://u:p@a:1"}]}`, "upstreams[0].url", "user info"},
		{"query", `{"upstreams":[{"url":"http://a:1/?x=1"}]}`, "upstreams[0].url", "query"},
		{"bad port", `{"upstreams":[{"url":"http://a:70000"}]}`, "upstreams[0].url", "port"},
		{"duplicate upstream", `{"upstreams":[{"url":"http://a:1"},{"url":"http://a:1"}]}`, "upstreams[1].url", "twice"},
		{"negative weight", `{"upstreams":[{"url":"http://a:1","weight":-1}]}`, "upstreams[0].weight", "out of range"},
		{"huge weight", `{"upstreams":[{"url":"http://a:1","weight":1000000}]}`, "upstreams[0].weight", "out of range"},
		{"all weights zero", `{"upstreams":[{"url":"http://a:1","weight":0}]}`, "upstreams", "every weight is 0"},
		{"both group and upstreams", `{"group":"g",` + up + `}`, "group", "not both"},
		{"bad group id", `{"group":"-g"}`, "group", "only letters"},
		{"prefix without slash", `{"path_prefix":"api",` + up + `}`, "path_prefix", "start with '/'"},
		{"prefix with dots", `{"path_prefix":"/a/../b",` + up + `}`, "path_prefix", "clean path"},
		{"prefix with query", `{"path_prefix":"/a?b",` + up + `}`, "path_prefix", "not allowed"},
		{"host with port", `{"host":"a.com:80",` + up + `}`, "host", "without a port"},
		{"bad host", `{"host":"a_b.com",` + up + `}`, "host", "not a valid host"},
		{"negative timeout", `{"timeout_ms":-1,` + up + `}`, "timeout_ms", "out of range"},
		{"too many retries", `{"retries":11,` + up + `}`, "retries", "out of range"},
		{"hop header", `{"set_headers":{"Connection":"close"},` + up + `}`, "set_headers.Connection", "cannot be set"},
		{"bad header name", `{"set_headers":{"a b":"x"},` + up + `}`, "set_headers", "not a valid header name"},
		{"header value newline", `{"set_headers":{"X-A":"a\nb"},` + up + `}`, "set_headers.X-A", "control character"},
		{"header twice", `{"set_headers":{"x-a":"1","X-A":"2"},` + up + `}`, "set_headers", "name the same header"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := route.DecodeRoute(strings.NewReader(tc.body))
			var ve *route.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, route.ErrInvalid) {
				t.Fatalf("err = %v, want a *ValidationError", err)
			}
			if ve.Field != tc.field || !strings.Contains(ve.Reason, tc.reason) {
				t.Fatalf("got field %q reason %q, want field %q reason containing %q", ve.Field, ve.Reason, tc.field, tc.reason)
			}
		})
	}
}

func TestDecodeNewRouteNeedsAValidID(t *testing.T) {
	id, r, err := route.DecodeNewRoute(strings.NewReader(`{"id":"web-1","upstreams":[{"url":"http://a:1"}]}`))
	if err != nil || id != "web-1" || r.Upstreams[0].Weight != 1 {
		t.Fatalf("got %q %+v %v", id, r, err)
	}
	for _, body := range []string{`{"upstreams":[{"url":"http://a:1"}]}`, `{"id":"a/b","upstreams":[{"url":"http://a:1"}]}`} {
		if _, _, err := route.DecodeNewRoute(strings.NewReader(body)); !errors.Is(err, route.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", body, err)
		}
	}
}

func TestValidateID(t *testing.T) {
	for _, ok := range []string{"a", "A9", "web.v2_b-c", strings.Repeat("x", route.MaxIDLen)} {
		if err := route.ValidateID(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".a", "-a", "a b", "a/b", "é", strings.Repeat("x", route.MaxIDLen+1)} {
		if err := route.ValidateID(bad); !errors.Is(err, route.ErrInvalid) {
			t.Errorf("%q: err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestDecodeGroup(t *testing.T) {
	g, err := route.DecodeGroup(strings.NewReader(`{"upstreams":[{"url":"http://a:1","weight":2}]}`))
	if err != nil || len(g.Upstreams) != 1 || g.Upstreams[0].Weight != 2 {
		t.Fatalf("got %+v %v", g, err)
	}
	if _, err := route.DecodeGroup(strings.NewReader(`{"upstreams":[]}`)); !errors.Is(err, route.ErrInvalid) {
		t.Fatalf("empty group: err = %v", err)
	}
	if _, err := route.DecodeGroup(strings.NewReader(`{"upstreams":[{"url":"http://a:1"}],"host":"x"}`)); !errors.Is(err, route.ErrInvalid) {
		t.Fatalf("unknown field: err = %v", err)
	}
}

func TestCommandRoundTripAndRefusals(t *testing.T) {
	r := route.Route{PathPrefix: "/a", Upstreams: []route.Upstream{{URL: "http://a:1", Weight: 1}}}
	for _, c := range []route.Command{
		{Op: route.OpPutRoute, ID: "r", Route: &r},
		{Op: route.OpCreateRoute, ID: "r", Route: &r},
		{Op: route.OpDeleteRoute, ID: "r"},
		{Op: route.OpPutGroup, ID: "g", Group: &route.Group{Upstreams: r.Upstreams}},
		{Op: route.OpDeleteGroup, ID: "g"},
	} {
		got, err := route.DecodeCommand(c.Encode())
		c.V = route.CommandVersion
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("%s: got %+v, %v", c.Op, got, err)
		}
	}
	bad := [][]byte{
		[]byte(`not json`),
		[]byte(`{"v":2,"op":"delete_route","id":"r"}`),
		[]byte(`{"v":1,"op":"explode","id":"r"}`),
		[]byte(`{"v":1,"op":"put_route","id":"r"}`),
		[]byte(`{"v":1,"op":"put_route","id":"r","route":{"path_prefix":"/a","upstreams":[]}}`),
		[]byte(`{"v":1,"op":"delete_route","id":""}`),
		[]byte(`{"v":1,"op":"delete_route","id":"r","group":{"upstreams":[]}}`),
	}
	for _, b := range bad {
		if _, err := route.DecodeCommand(b); !errors.Is(err, route.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", b, err)
		}
	}
}

func TestRejectionRoundTrip(t *testing.T) {
	in := &route.Rejection{Code: route.CodeConflict, Reason: `route "a" already exists`}
	out, err := route.DecodeRejection(in.Encode())
	if err != nil || *out != *in {
		t.Fatalf("got %+v, %v", out, err)
	}
	if _, err := route.DecodeRejection([]byte(`{}`)); err == nil {
		t.Fatal("a rejection without a code was accepted")
	}
}
