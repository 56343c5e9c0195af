package appliedrecord

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of these (or are
// typed errors that unwrap to one), so callers test them with errors.Is.
var (
	// ErrNoRecord means the applied-index record file does not exist: the
	// node has never persisted its applied index (a first start), so P is 0.
	ErrNoRecord = errors.New("appliedrecord: no applied-index record")

	// ErrCorruptRecord means bytes that should hold an applied-index record
	// do not: wrong magic, unknown format version, failed checksum,
	// truncation, trailing bytes or an absurd length. A corrupt record is
	// never trusted; the caller treats the persisted index as unknown (0).
	ErrCorruptRecord = errors.New("appliedrecord: corrupt applied-index record")

	// ErrForeignRecord means a well-formed record names another node or
	// another cluster than the one opening it, for example a data directory
	// copied from a different machine. The record is not trusted.
	ErrForeignRecord = errors.New("appliedrecord: applied-index record belongs to another node or cluster")

	// ErrInvalidRecord means a Record cannot be encoded because a field is
	// out of bounds (an identity longer than MaxIDLength). Nothing is
	// written.
	ErrInvalidRecord = errors.New("appliedrecord: invalid applied-index record")
)

// ForeignRecordError is the error Record.Check returns for a record that
// belongs to another node or cluster. It unwraps to ErrForeignRecord.
type ForeignRecordError struct {
	// Field names the identity that differs: "node ID" or "cluster ID".
	Field string
	// Recorded is the value stored in the record.
	Recorded string
	// Expected is the value of the node opening the record.
	Expected string
}

// Error describes which identity differs, with both values.
func (e *ForeignRecordError) Error() string {
	return fmt.Sprintf("appliedrecord: applied-index record belongs to another node or cluster: %s is %q in the record, %q expected",
		e.Field, e.Recorded, e.Expected)
}

// Unwrap returns ErrForeignRecord.
func (e *ForeignRecordError) Unwrap() error { return ErrForeignRecord }

// corruptf returns an error wrapping ErrCorruptRecord with a description of
// what is wrong.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorruptRecord, fmt.Sprintf(format, args...))
}
