package rpc

import (
	"errors"
	"fmt"
)

var (
	// ErrNotSent is wrapped by Call errors when the request certainly did
	// not reach the server's handler, so retrying it is safe.
	ErrNotSent = errors.New("rpc: request not sent")
	// ErrNoResponse is wrapped by Call errors when the request was written
	// but no response arrived: the handler may or may not have run.
	ErrNoResponse = errors.New("rpc: no response")
	// ErrClosed is wrapped by Call errors once the Client is closed.
	ErrClosed = errors.New("rpc: client closed")
)

func notSent(addr string, cause error) error {
	return fmt.Errorf("%w to %s: %w", ErrNotSent, addr, cause)
}

func noResponse(addr string, cause error) error {
	return fmt.Errorf("%w from %s: %w", ErrNoResponse, addr, cause)
}
