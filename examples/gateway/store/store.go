package store

import (
	"errors"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/examples/gateway/route"
)

// ErrCompacted is returned by ChangedSince when the changes since the
// asked index can no longer be listed exactly: tombstones of deleted routes
// that old have been dropped, or the state was replaced by a snapshot. The
// caller rebuilds from Resolved.
var ErrCompacted = errors.New("store: change history compacted past the requested index")

// RouteEntry is a stored route with its ID and the index of the command
// that last wrote it.
type RouteEntry struct {
	ID            string      `json:"id"`
	Route         route.Route `json:"route"`
	ModifiedIndex uint64      `json:"modified_index"`
}

// GroupEntry is a stored upstream group with its ID and the index of the
// command that last wrote it.
type GroupEntry struct {
	ID            string      `json:"id"`
	Group         route.Group `json:"group"`
	ModifiedIndex uint64      `json:"modified_index"`
}

// Delta lists what changed between two indexes of the store, for the data
// plane: routes created or changed (resolved, with their group's upstreams)
// and IDs of routes removed.
type Delta struct {
	// From and To bound the changes: every command in (From, To] is
	// reflected, and To is the store's index when the Delta was taken.
	From, To uint64
	Changed  []route.Resolved
	Removed  []string
}

// Store is what the gateway asks of its state machine. Reads return the
// index of the last command the store had applied when the read was taken
// (the read reflects exactly the commands up to it), and never block on
// anything but the store's own lock.
type Store interface {
	raft.FSM

	// Route returns the route id, and whether it exists.
	Route(id string) (RouteEntry, bool, uint64)
	// Routes returns every route, sorted by ID.
	Routes() ([]RouteEntry, uint64)
	// Group returns the group id, and whether it exists.
	Group(id string) (GroupEntry, bool, uint64)
	// Groups returns every group, sorted by ID.
	Groups() ([]GroupEntry, uint64)

	// Resolved returns every route resolved for the data plane, sorted by
	// ID, with the store's index.
	Resolved() ([]route.Resolved, uint64)
	// ChangedSince returns the routes that changed after index from: those
	// whose route or group was written after from, and those deleted after
	// from. Errors: ErrCompacted when that can no longer be known exactly.
	ChangedSince(from uint64) (Delta, error)
}
