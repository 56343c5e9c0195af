package raftsync

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/raftkit/raftkit/internal/appliedrecord"
)

// recordFile is the default AppliedIndexStore: the file applied-index in
// Dir, replaced atomically and durably.
type recordFile struct{ f *appliedrecord.File }

func (r recordFile) Load() ([]byte, error) { return r.f.LoadBytes() }

func (r recordFile) Store(b []byte) error { return r.f.StoreBytes(b) }

// recordStore encodes and verifies the applied-index record on top of the
// bytes an AppliedIndexStore keeps.
type recordStore struct{ s AppliedIndexStore }

// Load returns the stored record. Its error wraps appliedrecord.ErrNoRecord
// when none was stored, appliedrecord.ErrCorruptRecord when the bytes are
// not one whole record.
func (r *recordStore) Load() (appliedrecord.Record, error) {
	b, err := r.s.Load()
	switch {
	case errors.Is(err, appliedrecord.ErrNoRecord):
		return appliedrecord.Record{}, err
	case errors.Is(err, fs.ErrNotExist):
		return appliedrecord.Record{}, fmt.Errorf("%w: %w", appliedrecord.ErrNoRecord, err)
	case err != nil:
		return appliedrecord.Record{}, err
	}
	return appliedrecord.Parse(b)
}

// Store encodes rec and stores it.
func (r *recordStore) Store(rec appliedrecord.Record) error {
	b, err := rec.MarshalBinary()
	if err != nil {
		return err
	}
	return r.s.Store(b)
}
