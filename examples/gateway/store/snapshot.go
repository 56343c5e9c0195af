package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/examples/gateway/route"
)

// snapshotFormat is the version of the JSON snapshot payload. raftsync
// frames the payload with its own header and checksum; this version is the
// application's, for its own evolution.
const snapshotFormat = 1

// snapshotData is the JSON document a Mem snapshot holds.
type snapshotData struct {
	Format     int          `json:"format"`
	Index      uint64       `json:"index"`
	Horizon    uint64       `json:"horizon"`
	Routes     []RouteEntry `json:"routes"`
	Groups     []GroupEntry `json:"groups"`
	Tombstones []tombstone  `json:"tombstones"`
}

type memSnapshot struct{ data snapshotData }

// Persist writes the snapshot as one JSON document and closes the sink, or
// cancels it on error.
func (s *memSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(&s.data); err != nil {
		return errors.Join(fmt.Errorf("store: writing snapshot: %w", err), sink.Cancel())
	}
	return sink.Close()
}

// Release is part of raft.FSMSnapshot; the snapshot holds no resources.
func (s *memSnapshot) Release() {}

// errBadSnapshot is wrapped by every refusal of a snapshot's content.
var errBadSnapshot = errors.New("store: invalid snapshot")

// load fills an empty Mem from a snapshot document, checking everything a
// command would have been checked for: IDs, routes, groups, group
// references, host and prefix ownership, and the indexes.
func (m *Mem) load(r io.Reader) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var d snapshotData
	if err := dec.Decode(&d); err != nil {
		return fmt.Errorf("%w: decoding: %w", errBadSnapshot, err)
	}
	if d.Format != snapshotFormat {
		return fmt.Errorf("%w: format %d, this gateway reads %d", errBadSnapshot, d.Format, snapshotFormat)
	}
	if d.Horizon > d.Index {
		return fmt.Errorf("%w: horizon %d is past index %d", errBadSnapshot, d.Horizon, d.Index)
	}
	m.index, m.horizon = d.Index, d.Horizon
	for _, g := range d.Groups {
		if err := checkEntry(g.ID, g.ModifiedIndex, d.Index, g.Group.Validate); err != nil {
			return err
		}
		if _, dup := m.groups[g.ID]; dup {
			return fmt.Errorf("%w: group %q appears twice", errBadSnapshot, g.ID)
		}
		m.groups[g.ID] = g
	}
	for _, e := range d.Routes {
		if err := checkEntry(e.ID, e.ModifiedIndex, d.Index, e.Route.Validate); err != nil {
			return err
		}
		if _, dup := m.routes[e.ID]; dup {
			return fmt.Errorf("%w: route %q appears twice", errBadSnapshot, e.ID)
		}
		if rej := m.putRoute(e.ID, e.Route, e.ModifiedIndex); rej != nil {
			return fmt.Errorf("%w: route %q: %s", errBadSnapshot, e.ID, rej.Reason)
		}
	}
	for _, t := range d.Tombstones {
		if err := route.ValidateID(t.ID); err != nil {
			return fmt.Errorf("%w: tombstone: %w", errBadSnapshot, err)
		}
		if _, live := m.routes[t.ID]; live {
			return fmt.Errorf("%w: route %q is both live and deleted", errBadSnapshot, t.ID)
		}
		if t.Index <= d.Horizon || t.Index > d.Index {
			return fmt.Errorf("%w: tombstone %q at %d is outside (%d, %d]", errBadSnapshot, t.ID, t.Index, d.Horizon, d.Index)
		}
		m.tombstones[t.ID] = t.Index
	}
	m.tombOrder = sortedTombstones(m.tombstones)
	m.pruneTombstones()
	return nil
}

func checkEntry(id string, modified, index uint64, validate func() error) error {
	if err := route.ValidateID(id); err != nil {
		return fmt.Errorf("%w: %w", errBadSnapshot, err)
	}
	if modified == 0 || modified > index {
		return fmt.Errorf("%w: %q modified at %d, outside (0, %d]", errBadSnapshot, id, modified, index)
	}
	if err := validate(); err != nil {
		return fmt.Errorf("%w: %q: %w", errBadSnapshot, id, err)
	}
	return nil
}
