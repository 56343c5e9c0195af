package proxy

import (
	"cmp"
	"maps"
	"net"
	"slices"
	"strings"
	"sync/atomic"
)

// slot holds one route in the matching index. Its host and prefix are
// fixed; what it serves (cur) is swapped atomically when the route changes
// without moving.
type slot struct {
	id, host, prefix string
	cur              atomic.Pointer[compiled]
}

// index is an immutable matching structure over slots. A new index is
// made when routes are added, removed or moved; it shares every unchanged
// slot with the index it replaces.
type index struct {
	byID   map[string]*slot
	byHost map[string][]*slot // routes with a host, longest prefix first
	any    []*slot            // routes without a host, longest prefix first
}

func newIndex(slots map[string]*slot) *index {
	ix := &index{byID: slots, byHost: map[string][]*slot{}}
	for _, s := range slots {
		if s.host == "" {
			ix.any = append(ix.any, s)
		} else {
			ix.byHost[s.host] = append(ix.byHost[s.host], s)
		}
	}
	order := func(a, b *slot) int {
		return cmp.Or(cmp.Compare(len(b.prefix), len(a.prefix)), cmp.Compare(a.id, b.id))
	}
	slices.SortFunc(ix.any, order)
	for _, list := range ix.byHost {
		slices.SortFunc(list, order)
	}
	return ix
}

// lookup returns the route serving host and path, or nil. Routes for the
// request's host win over host-less ones; within each, the longest prefix.
func (ix *index) lookup(host, path string) *compiled {
	for _, list := range [][]*slot{ix.byHost[host], ix.any} {
		for _, s := range list {
			if prefixMatches(s.prefix, path) {
				return s.cur.Load()
			}
		}
	}
	return nil
}

// withChanges returns a new index: slots in moved replace or add routes,
// IDs in removed are dropped, every other slot is shared.
func (ix *index) withChanges(moved []*slot, removed []string) *index {
	slots := maps.Clone(ix.byID)
	for _, id := range removed {
		delete(slots, id)
	}
	for _, s := range moved {
		slots[s.id] = s
	}
	return newIndex(slots)
}

func newSlot(c *compiled) *slot {
	s := &slot{id: c.id, host: c.host, prefix: c.prefix}
	s.cur.Store(c)
	return s
}

// requestHost returns the host a request is for: the Host header without
// its port, lower-cased, without a trailing dot.
func requestHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}
