package store_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/raftkit/raftkit/examples/gateway/route"
	"github.com/raftkit/raftkit/examples/gateway/store"
)

func TestApplyWritesAndReads(t *testing.T) {
	a := newApplier(t, store.Options{})
	i1 := a.mustDo(put("api", rt("/api", "http://a:1")))
	i2 := a.mustDo(put("web", rt("/", "http://b:1")))
	e, ok, at := a.s.Route("api")
	if !ok || e.ModifiedIndex != i1 || e.Route.PathPrefix != "/api" || at != i2 {
		t.Fatalf("Route(api) = %+v %v %d", e, ok, at)
	}
	i3 := a.mustDo(put("api", rt("/api", "http://c:1")))
	if e, _, _ := a.s.Route("api"); e.ModifiedIndex != i3 || e.Route.Upstreams[0].URL != "http://c:1" {
		t.Fatalf("replaced route = %+v", e)
	}
	all, at := a.s.Routes()
	if len(all) != 2 || all[0].ID != "api" || all[1].ID != "web" || at != i3 {
		t.Fatalf("Routes() = %+v at %d", all, at)
	}
	a.mustDo(del("web"))
	if _, ok, _ := a.s.Route("web"); ok {
		t.Fatal("deleted route still there")
	}
}

// Every refusal leaves the state exactly as it was.
func TestRefusalsChangeNothing(t *testing.T) {
	a := newApplier(t, store.Options{})
	a.mustDo(put("api", rt("/api", "http://a:1")))
	a.mustDo(route.Command{Op: route.OpPutGroup, ID: "pool", Group: &route.Group{Upstreams: []route.Upstream{{URL: "http://p:1", Weight: 1}}}})
	a.mustDo(put("pooled", &route.Route{PathPrefix: "/p", Group: "pool"}))
	before := snapshotBytes(t, a.s)

	cases := []struct {
		name string
		cmd  route.Command
		code route.Code
	}{
		{"create existing", route.Command{Op: route.OpCreateRoute, ID: "api", Route: rt("/other", "http://a:1")}, route.CodeConflict},
		{"same host and prefix", put("api2", rt("/api", "http://b:1")), route.CodeConflict},
		{"unknown group", put("g", &route.Route{PathPrefix: "/g", Group: "nope"}), route.CodeInvalid},
		{"delete absent route", del("nope"), route.CodeNotFound},
		{"delete absent group", route.Command{Op: route.OpDeleteGroup, ID: "nope"}, route.CodeNotFound},
		{"delete group in use", route.Command{Op: route.OpDeleteGroup, ID: "pool"}, route.CodeConflict},
		{"invalid route", put("bad", &route.Route{PathPrefix: "/x"}), route.CodeInvalid},
	}
	for _, tc := range cases {
		rej := a.do(tc.cmd)
		if rej == nil || rej.Code != tc.code {
			t.Errorf("%s: rejection %+v, want code %s", tc.name, rej, tc.code)
		}
	}
	after := snapshotBytes(t, a.s)
	// The store's index moves with every command, refused or not; nothing
	// else may.
	b, _ := decodeSnap(t, before)
	c, idx := decodeSnap(t, after)
	if !reflect.DeepEqual(b, c) {
		t.Fatalf("state changed:\nbefore %s\nafter  %s", before, after)
	}
	if idx != a.index {
		t.Fatalf("index %d, want %d", idx, a.index)
	}
}

func TestGroupChangeReachesItsRoutes(t *testing.T) {
	a := newApplier(t, store.Options{})
	g := func(url string) route.Command {
		return route.Command{Op: route.OpPutGroup, ID: "pool", Group: &route.Group{Upstreams: []route.Upstream{{URL: url, Weight: 1}}}}
	}
	a.mustDo(g("http://p1:1"))
	a.mustDo(put("uses", &route.Route{PathPrefix: "/u", Group: "pool"}))
	a.mustDo(put("other", rt("/o", "http://o:1")))
	from := a.index
	gi := a.mustDo(g("http://p2:1"))

	d, err := a.s.ChangedSince(from)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Changed) != 1 || d.Changed[0].ID != "uses" || d.Changed[0].Version != gi ||
		d.Changed[0].Route.Upstreams[0].URL != "http://p2:1" || len(d.Removed) != 0 || d.From != from || d.To != gi {
		t.Fatalf("delta = %+v", d)
	}
	all, _ := a.s.Resolved()
	if len(all) != 2 || all[1].Route.Upstreams[0].URL != "http://p2:1" {
		t.Fatalf("Resolved() = %+v", all)
	}
}

func TestChangedSinceListsExactlyWhatChanged(t *testing.T) {
	a := newApplier(t, store.Options{})
	a.mustDo(put("keep", rt("/keep", "http://a:1")))
	a.mustDo(put("edit", rt("/edit", "http://a:1")))
	a.mustDo(put("drop", rt("/drop", "http://a:1")))
	a.mustDo(put("back", rt("/back", "http://a:1")))
	from := a.index
	a.mustDo(put("edit", rt("/edit", "http://b:1")))
	a.mustDo(del("drop"))
	a.mustDo(put("new", rt("/new", "http://a:1")))
	a.mustDo(del("back"))
	a.mustDo(put("back", rt("/back", "http://c:1"))) // deleted, then created again

	d, err := a.s.ChangedSince(from)
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, r := range d.Changed {
		changed = append(changed, r.ID)
	}
	if !reflect.DeepEqual(changed, []string{"back", "edit", "new"}) || !reflect.DeepEqual(d.Removed, []string{"drop"}) {
		t.Fatalf("changed %v removed %v", changed, d.Removed)
	}
	if d, err := a.s.ChangedSince(a.index); err != nil || len(d.Changed)+len(d.Removed) != 0 {
		t.Fatalf("nothing changed since the last index, got %+v %v", d, err)
	}
}

func TestChangedSinceReportsCompaction(t *testing.T) {
	a := newApplier(t, store.Options{MaxTombstones: 2})
	for _, id := range []string{"a", "b", "c", "d"} {
		a.mustDo(put(id, rt("/"+id, "http://x:1")))
	}
	early := a.index
	a.mustDo(del("a"))
	afterA := a.index
	a.mustDo(del("b"))
	a.mustDo(del("c")) // three tombstones: a's is dropped
	if _, err := a.s.ChangedSince(early); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("ChangedSince(before the dropped tombstone) err = %v, want ErrCompacted", err)
	}
	d, err := a.s.ChangedSince(afterA)
	if err != nil || !reflect.DeepEqual(d.Removed, []string{"b", "c"}) {
		t.Fatalf("ChangedSince(after it) = %+v, %v", d, err)
	}
	if _, err := a.s.ChangedSince(a.index + 1); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("ChangedSince(the future) err = %v, want ErrCompacted", err)
	}
}

// Deleting and re-creating the same IDs forever must not grow memory.
func TestTombstoneBookkeepingStaysBounded(t *testing.T) {
	a := newApplier(t, store.Options{MaxTombstones: 4})
	for i := 0; i < 2000; i++ {
		a.mustDo(put("x", rt("/x", "http://x:1")))
		a.mustDo(del("x"))
	}
	if n := store.TombOrderLen(a.s); n > 2*4+64 {
		t.Fatalf("tombstone order list holds %d entries", n)
	}
}
