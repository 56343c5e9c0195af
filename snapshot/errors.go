package snapshot

import (
	"errors"
	"fmt"
)

// Errors returned by this package. Every error that reports a damaged or
// foreign stream or backup wraps exactly one of ErrNotSnapshot, ErrNotBackup,
// ErrUnsupportedVersion, ErrCorrupt or ErrTruncated, so callers test them
// with errors.Is and never by comparing strings. Failures of the underlying
// reader, writer or file system are returned wrapped with %w and wrap none of
// these sentinels.
var (
	// ErrNotSnapshot means the stream does not start with the snapshot magic:
	// it is empty, or it is something other than a raftkit snapshot stream.
	ErrNotSnapshot = errors.New("snapshot: not a raftkit snapshot stream")

	// ErrNotBackup means the input does not start with the backup magic: it
	// is empty, or it is something other than a raftkit backup file.
	ErrNotBackup = errors.New("snapshot: not a raftkit backup")

	// ErrUnsupportedVersion means the stream or backup is intact (its header
	// checksum matches) but was written in a format version, or with a
	// compression, that this package does not read.
	ErrUnsupportedVersion = errors.New("snapshot: unsupported format version")

	// ErrCorrupt means the bytes are damaged: a checksum, a length or a
	// framing byte does not match what the writer produced, or bytes follow
	// the trailer. A backup header whose checksum matches but whose values
	// no writer produces (an Index of 0 or past MaxBackupIndex, a
	// configuration raft would refuse) is ErrCorrupt too: a checksum is not
	// authentication.
	ErrCorrupt = errors.New("snapshot: corrupt")

	// ErrTruncated means the input ends before the format says it may:
	// inside the header, between or inside payload chunks, or inside the
	// trailer.
	ErrTruncated = errors.New("snapshot: truncated")

	// ErrInvalidHeader means a Header or BackupHeader handed to a writer
	// cannot be encoded (unknown compression, a field over its limit, a
	// negative size, a backup value outside what ReadBackup accepts).
	// Nothing has been written when it is returned.
	ErrInvalidHeader = errors.New("snapshot: invalid header")

	// ErrSizeMismatch means the snapshot data given to WriteBackup did not
	// hold exactly BackupHeader.Size bytes. The output then ends without a
	// trailer, so ReadBackup refuses it.
	ErrSizeMismatch = errors.New("snapshot: snapshot data size does not match the header")

	// ErrTooLarge means a payload is larger than the limit its reader was
	// given (VerifyLimited): typically a small compressed stream that
	// expands far beyond its size. Nothing is kept.
	ErrTooLarge = errors.New("snapshot: payload exceeds the size limit")

	// ErrClosed is returned by Writer.Write after Close.
	ErrClosed = errors.New("snapshot: writer closed")

	// ErrInvalidPolicy is wrapped by the error Policy.Validate returns; the
	// message names the offending field.
	ErrInvalidPolicy = errors.New("snapshot: invalid policy")
)

// FormatError describes where and why a stream or backup was refused. It
// unwraps to its Kind, one of ErrNotSnapshot, ErrNotBackup,
// ErrUnsupportedVersion, ErrCorrupt or ErrTruncated.
type FormatError struct {
	// Kind is the sentinel the error unwraps to.
	Kind error
	// Offset is the byte offset in the input at which the problem was
	// detected (for a checksum mismatch: where the checksum is stored).
	Offset int64
	// Reason says what was wrong, for people.
	Reason string
}

// Error returns the sentinel's message, the offset and the reason.
func (e *FormatError) Error() string {
	return fmt.Sprintf("%v at byte %d: %s", e.Kind, e.Offset, e.Reason)
}

// Unwrap returns Kind, so errors.Is(err, ErrCorrupt) and friends work.
func (e *FormatError) Unwrap() error { return e.Kind }

func formatErr(kind error, off int64, format string, args ...any) *FormatError {
	return &FormatError{Kind: kind, Offset: off, Reason: fmt.Sprintf(format, args...)}
}
