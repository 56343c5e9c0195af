package readiness

import "errors"

// ErrInvalidPolicy means a Policy or PersistPolicy field holds a value that
// has no meaning, such as a negative duration. Validate returns an error
// wrapping it whose text names the field; test it with errors.Is.
var ErrInvalidPolicy = errors.New("readiness: invalid policy")
