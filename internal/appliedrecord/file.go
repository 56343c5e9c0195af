package appliedrecord

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// File is the file that holds a node's applied-index Record.
//
// Store replaces the file atomically and durably, so that after a crash at
// any moment the file holds either the previous record or the new one, never
// a mix; Load refuses anything that is not a whole, checksummed record.
//
// One File serialises its own Store calls, so it is safe for
// concurrent use. It does not coordinate with other File values or
// other processes using the same path: there must be one writer per path at
// a time (raftsync guarantees this by locking the node's data directory).
type File struct {
	path string
	mu   sync.Mutex // serialises Store
}

// OpenFile returns the File at path. It does no I/O: a missing
// file is reported by Load, and Store creates it. The temporary file Store
// uses is path + ".tmp" in the same directory.
func OpenFile(path string) *File {
	return &File{path: path}
}

// Path returns the path of the record file.
func (f *File) Path() string { return f.path }

// Load reads and verifies the record. It does not block beyond the file
// read. It returns an error wrapping ErrNoRecord when the file does not
// exist, an error wrapping ErrCorruptRecord when the file holds anything but
// one valid record (torn, truncated, garbage, or larger than any record),
// and the I/O error otherwise. A leftover path.tmp from an interrupted Store
// is ignored. Load never returns a record it could not verify; it does not
// check the identity (call Record.Check).
func (f *File) Load() (Record, error) {
	b, err := f.LoadBytes()
	if err != nil {
		return Record{}, err
	}
	r, err := Parse(b)
	if err != nil {
		return Record{}, fmt.Errorf("%s: %w", f.path, err)
	}
	return r, nil
}

// LoadBytes returns the file's content, unverified, reading at most one
// byte more than the longest valid record, so that a huge file costs no
// memory and is still recognised as too long by Parse. It returns an
// error wrapping both ErrNoRecord and fs.ErrNotExist when the file does
// not exist, and the I/O error otherwise.
func (f *File) LoadBytes() ([]byte, error) {
	if f.path == "" {
		return nil, errors.New("appliedrecord: record file path is empty")
	}
	fh, err := os.Open(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoRecord, f.path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("appliedrecord: load applied-index record: %w", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, int64(maxRecordLength)+1))
	if err != nil {
		return nil, fmt.Errorf("appliedrecord: load applied-index record %s: %w", f.path, err)
	}
	return b, nil
}

// Store makes r the durable content of the file (see StoreBytes). It
// returns an error wrapping ErrInvalidRecord, with nothing written, when r
// cannot be encoded.
func (f *File) Store(r Record) error {
	data, err := r.MarshalBinary()
	if err != nil {
		return err
	}
	return f.StoreBytes(data)
}

// StoreBytes makes data the durable content of the file. It writes
// path.tmp, fsyncs it, renames it over path and fsyncs the directory, so a
// crash at any point leaves the old content or the new one. It blocks for
// the writes and fsyncs (and while another Store on the same File runs).
// It returns the I/O error when a step fails; after a failed StoreBytes
// the file holds the old content or, if only the directory fsync failed,
// the new one.
func (f *File) StoreBytes(data []byte) error {
	if f.path == "" {
		return errors.New("appliedrecord: record file path is empty")
	}
	f.mu.Lock()
	defer f.mu.Unlock()

	tmp := f.path + ".tmp"
	if err := writeFileSynced(tmp, data); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("appliedrecord: store applied-index record: %w", err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("appliedrecord: store applied-index record: %w", err)
	}
	if err := syncDir(filepath.Dir(f.path)); err != nil {
		return fmt.Errorf("appliedrecord: store applied-index record: sync directory: %w", err)
	}
	return nil
}

// writeFileSynced creates or truncates name, writes data and fsyncs it
// before closing.
func writeFileSynced(name string, data []byte) error {
	fh, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := fh.Write(data); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// syncDir fsyncs a directory so that a rename inside it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}
