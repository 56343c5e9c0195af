package store

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/examples/gateway/route"
)

// DefaultMaxTombstones is how many deleted-route markers Mem keeps for
// ChangedSince when Options.MaxTombstones is 0.
const DefaultMaxTombstones = 4096

// Options tunes a Mem store.
type Options struct {
	// MaxTombstones bounds how many deleted routes Mem remembers for
	// ChangedSince. Past it the oldest are dropped, and ChangedSince for an
	// index before the newest dropped one returns ErrCompacted. 0 means
	// DefaultMaxTombstones.
	MaxTombstones int
}

// Mem is an in-memory Store with JSON snapshots. It is safe for concurrent
// use: raft applies commands from one goroutine while any number read.
type Mem struct {
	maxTombstones int

	mu      sync.RWMutex
	index   uint64 // last command applied
	horizon uint64 // deletions at or below it may have been forgotten
	routes  map[string]RouteEntry
	groups  map[string]GroupEntry
	// owners maps a route's host and path prefix to its ID: no two routes
	// may claim the same pair.
	owners map[hostPrefix]string
	// tombstones maps a deleted route's ID to the index that deleted it;
	// tombOrder lists them oldest first (it may hold stale entries for IDs
	// re-created or deleted again since, which pruning skips).
	tombstones map[string]uint64
	tombOrder  []tombstone
}

type hostPrefix struct{ host, prefix string }

type tombstone struct {
	ID    string `json:"id"`
	Index uint64 `json:"index"`
}

var _ Store = (*Mem)(nil)

// NewMem returns an empty store.
func NewMem(o Options) *Mem {
	if o.MaxTombstones <= 0 {
		o.MaxTombstones = DefaultMaxTombstones
	}
	m := &Mem{maxTombstones: o.MaxTombstones}
	m.reset()
	return m
}

func (m *Mem) reset() {
	m.index, m.horizon = 0, 0
	m.routes = map[string]RouteEntry{}
	m.groups = map[string]GroupEntry{}
	m.owners = map[hostPrefix]string{}
	m.tombstones = map[string]uint64{}
	m.tombOrder = nil
}

// Index returns the index of the last command the store applied.
func (m *Mem) Index() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.index
}

// Apply is part of raft.FSM. It applies one command and returns nil, or
// the encoded route.Rejection ([]byte) when it refused it; the state is
// then unchanged. It never returns an error value: a refusal is an answer,
// and it must survive being forwarded between nodes intact.
func (m *Mem) Apply(l *raft.Log) interface{} {
	if l.Type != raft.LogCommand {
		return nil
	}
	cmd, err := route.DecodeCommand(l.Data)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.index = max(m.index, l.Index)
	if err != nil {
		return (&route.Rejection{Code: route.CodeInvalid, Reason: err.Error()}).Encode()
	}
	var rej *route.Rejection
	switch cmd.Op {
	case route.OpPutRoute:
		rej = m.putRoute(cmd.ID, *cmd.Route, l.Index)
	case route.OpCreateRoute:
		if _, ok := m.routes[cmd.ID]; ok {
			rej = &route.Rejection{Code: route.CodeConflict, Reason: fmt.Sprintf("route %q already exists", cmd.ID)}
		} else {
			rej = m.putRoute(cmd.ID, *cmd.Route, l.Index)
		}
	case route.OpDeleteRoute:
		rej = m.deleteRoute(cmd.ID, l.Index)
	case route.OpPutGroup:
		m.groups[cmd.ID] = GroupEntry{ID: cmd.ID, Group: *cmd.Group, ModifiedIndex: l.Index}
	case route.OpDeleteGroup:
		rej = m.deleteGroup(cmd.ID)
	}
	if rej != nil {
		return rej.Encode()
	}
	return nil
}

func (m *Mem) putRoute(id string, r route.Route, index uint64) *route.Rejection {
	if r.Group != "" {
		if _, ok := m.groups[r.Group]; !ok {
			return &route.Rejection{Code: route.CodeInvalid, Reason: fmt.Sprintf("group: upstream group %q does not exist", r.Group)}
		}
	}
	key := hostPrefix{r.Host, r.PathPrefix}
	if owner, ok := m.owners[key]; ok && owner != id {
		return &route.Rejection{Code: route.CodeConflict, Reason: fmt.Sprintf("route %q already serves host %q, path prefix %q", owner, r.Host, r.PathPrefix)}
	}
	if old, ok := m.routes[id]; ok {
		delete(m.owners, hostPrefix{old.Route.Host, old.Route.PathPrefix})
	}
	m.owners[key] = id
	m.routes[id] = RouteEntry{ID: id, Route: r, ModifiedIndex: index}
	delete(m.tombstones, id)
	return nil
}

func (m *Mem) deleteRoute(id string, index uint64) *route.Rejection {
	old, ok := m.routes[id]
	if !ok {
		return &route.Rejection{Code: route.CodeNotFound, Reason: fmt.Sprintf("route %q does not exist", id)}
	}
	delete(m.routes, id)
	delete(m.owners, hostPrefix{old.Route.Host, old.Route.PathPrefix})
	m.tombstones[id] = index
	m.tombOrder = append(m.tombOrder, tombstone{ID: id, Index: index})
	m.pruneTombstones()
	return nil
}

// pruneTombstones drops the oldest tombstones beyond the bound, raising
// the horizon to the newest one dropped.
func (m *Mem) pruneTombstones() {
	for len(m.tombstones) > m.maxTombstones && len(m.tombOrder) > 0 {
		t := m.tombOrder[0]
		m.tombOrder = m.tombOrder[1:]
		if idx, ok := m.tombstones[t.ID]; ok && idx == t.Index {
			delete(m.tombstones, t.ID)
			m.horizon = max(m.horizon, t.Index)
		}
	}
	// Stale entries (IDs re-created or deleted again) would let tombOrder
	// grow without bound; rebuild it from the map when they dominate.
	if len(m.tombOrder) > 2*len(m.tombstones)+64 {
		m.tombOrder = sortedTombstones(m.tombstones)
	}
}

func sortedTombstones(t map[string]uint64) []tombstone {
	out := make([]tombstone, 0, len(t))
	for id, idx := range t {
		out = append(out, tombstone{ID: id, Index: idx})
	}
	slices.SortFunc(out, func(a, b tombstone) int { return cmp.Or(cmp.Compare(a.Index, b.Index), cmp.Compare(a.ID, b.ID)) })
	return out
}

func (m *Mem) deleteGroup(id string) *route.Rejection {
	if _, ok := m.groups[id]; !ok {
		return &route.Rejection{Code: route.CodeNotFound, Reason: fmt.Sprintf("upstream group %q does not exist", id)}
	}
	var users []string
	for rid, e := range m.routes {
		if e.Route.Group == id {
			users = append(users, rid)
		}
	}
	if len(users) > 0 {
		slices.Sort(users)
		return &route.Rejection{Code: route.CodeConflict, Reason: fmt.Sprintf("upstream group %q is used by routes %q", id, users)}
	}
	delete(m.groups, id)
	return nil
}

// Route is part of Store.
func (m *Mem) Route(id string) (RouteEntry, bool, uint64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.routes[id]
	return e, ok, m.index
}

// Routes is part of Store.
func (m *Mem) Routes() ([]RouteEntry, uint64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return sortedValues(m.routes), m.index
}

// Group is part of Store.
func (m *Mem) Group(id string) (GroupEntry, bool, uint64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.groups[id]
	return e, ok, m.index
}

// Groups is part of Store.
func (m *Mem) Groups() ([]GroupEntry, uint64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return sortedValues(m.groups), m.index
}

func sortedValues[V any](mp map[string]V) []V {
	out := make([]V, 0, len(mp))
	for _, k := range slices.Sorted(maps.Keys(mp)) {
		out = append(out, mp[k])
	}
	return out
}

// Resolved is part of Store.
func (m *Mem) Resolved() ([]route.Resolved, uint64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]route.Resolved, 0, len(m.routes))
	for _, id := range slices.Sorted(maps.Keys(m.routes)) {
		out = append(out, m.resolve(m.routes[id]))
	}
	return out, m.index
}

// ChangedSince is part of Store. It scans the route table once, which for
// configuration-sized state (thousands of routes) costs microseconds, and
// runs once per coalesced change notification, not per request.
func (m *Mem) ChangedSince(from uint64) (Delta, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if from < m.horizon || from > m.index {
		return Delta{}, fmt.Errorf("%w: asked for changes after %d, history covers (%d, %d]", ErrCompacted, from, m.horizon, m.index)
	}
	d := Delta{From: from, To: m.index}
	for _, id := range slices.Sorted(maps.Keys(m.routes)) {
		if r := m.resolve(m.routes[id]); r.Version > from {
			d.Changed = append(d.Changed, r)
		}
	}
	for id, idx := range m.tombstones {
		if idx > from {
			d.Removed = append(d.Removed, id)
		}
	}
	slices.Sort(d.Removed)
	return d, nil
}

// resolve fills in a route's upstreams from its group. Callers hold mu.
func (m *Mem) resolve(e RouteEntry) route.Resolved {
	r := route.Resolved{ID: e.ID, Route: e.Route, Version: e.ModifiedIndex}
	if e.Route.Group != "" {
		g := m.groups[e.Route.Group] // exists: deleteGroup refuses groups in use
		r.Route.Upstreams = g.Group.Upstreams
		r.Version = max(r.Version, g.ModifiedIndex)
	}
	return r
}

// Snapshot is part of raft.FSM. It copies the maps under the lock (stored
// entries are never modified in place, so a shallow copy is a consistent
// view) and encodes them in Persist, outside the lock.
func (m *Mem) Snapshot() (raft.FSMSnapshot, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return &memSnapshot{data: snapshotData{
		Format:     snapshotFormat,
		Index:      m.index,
		Horizon:    m.horizon,
		Routes:     sortedValues(m.routes),
		Groups:     sortedValues(m.groups),
		Tombstones: sortedTombstones(m.tombstones),
	}}, nil
}

// Restore is part of raft.FSM. It decodes and checks the whole snapshot
// before replacing anything: on error the old state stays.
func (m *Mem) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	next := NewMem(Options{MaxTombstones: m.maxTombstones})
	if err := next.load(rc); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.index, m.horizon = next.index, next.horizon
	m.routes, m.groups, m.owners = next.routes, next.groups, next.owners
	m.tombstones, m.tombOrder = next.tombstones, next.tombOrder
	return nil
}
