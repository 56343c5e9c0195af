package route

import (
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by every error that rejects a route, a group, an ID
// or a command as malformed or out of range.
var ErrInvalid = errors.New("invalid configuration")

// ValidationError names the field that made a route, group or command
// invalid, and why. It unwraps to ErrInvalid (and to Cause).
type ValidationError struct {
	// Field is the JSON path of the offending field, such as
	// "upstreams[1].url"; empty when the problem is the document as a whole.
	Field  string
	Reason string
	// Cause, when set, is a more specific sentinel the error also
	// unwraps to (ErrForbiddenUpstream).
	Cause error
}

// Error returns "field: reason", or the reason alone when Field is empty.
func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalid, and Cause when set.
func (e *ValidationError) Unwrap() []error {
	if e.Cause != nil {
		return []error{ErrInvalid, e.Cause}
	}
	return []error{ErrInvalid}
}

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
