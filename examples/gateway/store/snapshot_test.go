package store_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/raftkit/raftkit/examples/gateway/route"
	"github.com/raftkit/raftkit/examples/gateway/store"
)

// decodeSnap returns a snapshot's content without its index.
func decodeSnap(t *testing.T, b []byte) (map[string]any, uint64) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	idx := uint64(m["index"].(float64))
	delete(m, "index")
	return m, idx
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	a := newApplier(t, store.Options{MaxTombstones: 8})
	a.mustDo(route.Command{Op: route.OpPutGroup, ID: "pool", Group: &route.Group{Upstreams: []route.Upstream{{URL: "http://p:1", Weight: 3}}}})
	a.mustDo(put("api", &route.Route{Host: "a.example", PathPrefix: "/api", Group: "pool", TimeoutMS: 50, SetHeaders: map[string]string{"X-A": "1"}}))
	a.mustDo(put("gone", rt("/gone", "http://g:1")))
	a.mustDo(put("web", rt("/", "http://w:1")))
	a.mustDo(del("gone"))
	snap := snapshotBytes(t, a.s)

	b := store.NewMem(store.Options{MaxTombstones: 8})
	if err := restore(b, snap); err != nil {
		t.Fatal(err)
	}
	for _, get := range []func(s *store.Mem) any{
		func(s *store.Mem) any { v, i := s.Routes(); return []any{v, i} },
		func(s *store.Mem) any { v, i := s.Groups(); return []any{v, i} },
		func(s *store.Mem) any { v, i := s.Resolved(); return []any{v, i} },
		func(s *store.Mem) any { d, err := s.ChangedSince(2); return []any{d, err} },
	} {
		if x, y := get(a.s), get(b); !reflect.DeepEqual(x, y) {
			t.Fatalf("restored store differs:\n%+v\n%+v", x, y)
		}
	}
	// The restored store keeps the rules: host+prefix ownership and group
	// use survive.
	nb := &applier{t: t, s: b, index: a.index}
	if rej := nb.do(put("api2", &route.Route{Host: "a.example", PathPrefix: "/api", Upstreams: []route.Upstream{{URL: "http://z:1", Weight: 1}}})); rej == nil || rej.Code != route.CodeConflict {
		t.Fatalf("host+prefix conflict after restore: %+v", rej)
	}
	if rej := nb.do(route.Command{Op: route.OpDeleteGroup, ID: "pool"}); rej == nil || rej.Code != route.CodeConflict {
		t.Fatalf("group in use after restore: %+v", rej)
	}
}

func TestRestoreRefusesBadSnapshotsAndKeepsState(t *testing.T) {
	a := newApplier(t, store.Options{})
	a.mustDo(put("api", rt("/api", "http://a:1")))
	before := snapshotBytes(t, a.s)

	good := `{"format":1,"index":9,"horizon":0,"groups":[],"tombstones":[],"routes":[{"id":"r","route":{"host":"","path_prefix":"/r","upstreams":[{"url":"http://a:1","weight":1}],"timeout_ms":0,"retries":0,"strip_prefix":false,"set_headers":null},"modified_index":3}]}`
	if err := restore(store.NewMem(store.Options{}), []byte(good)); err != nil {
		t.Fatalf("the base case must restore: %v", err)
	}
	cases := map[string]string{
		"not json":          `{"format":1,`,
		"unknown field":     strings.Replace(good, `"horizon":0`, `"horizon":0,"extra":1`, 1),
		"other format":      strings.Replace(good, `"format":1`, `"format":2`, 1),
		"horizon past end":  strings.Replace(good, `"horizon":0`, `"horizon":10`, 1),
		"invalid route":     strings.Replace(good, `"url":"http://a:1"`, `"url":"ftp://a:1"`, 1),
		"bad id":            strings.Replace(good, `"id":"r"`, `"id":"a b"`, 1),
		"modified > index":  strings.Replace(good, `"modified_index":3`, `"modified_index":10`, 1),
		"missing group":     strings.Replace(good, `"upstreams":[{"url":"http://a:1","weight":1}]`, `"group":"nope"`, 1),
		"live and deleted":  strings.Replace(good, `"tombstones":[]`, `"tombstones":[{"id":"r","index":4}]`, 1),
		"tombstone too old": strings.Replace(strings.Replace(good, `"horizon":0`, `"horizon":5`, 1), `"tombstones":[]`, `"tombstones":[{"id":"x","index":4}]`, 1),
		"duplicate route":   strings.Replace(good, `"modified_index":3}]`, `"modified_index":3},{"id":"r","route":{"path_prefix":"/s","upstreams":[{"url":"http://a:1","weight":1}]},"modified_index":3}]`, 1),
	}
	for name, snap := range cases {
		t.Run(name, func(t *testing.T) {
			if err := restore(a.s, []byte(snap)); err == nil {
				t.Fatal("restored a bad snapshot")
			}
			if got := snapshotBytes(t, a.s); string(got) != string(before) {
				t.Fatalf("state changed by a refused restore:\n%s\n%s", before, got)
			}
		})
	}
}
