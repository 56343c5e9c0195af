package wire

import (
	"encoding/binary"
	"time"
)

// ApplyRequest asks the leader to apply Command through Raft. A follower
// sends it on behalf of its caller.
type ApplyRequest struct {
	// Command is the application's opaque command.
	Command []byte
	// Timeout bounds the apply on the leader; zero means the leader's
	// default.
	Timeout time.Duration
}

// MessageType returns TypeApplyRequest.
func (ApplyRequest) MessageType() Type { return TypeApplyRequest }

// MarshalBinary encodes the request; it never fails.
func (m ApplyRequest) MarshalBinary() ([]byte, error) {
	e := encoder{name: "ApplyRequest", buf: make([]byte, 0, len(m.Command)+2*binary.MaxVarintLen64)}
	e.bytes(m.Command)
	e.duration(m.Timeout)
	return e.result()
}

// UnmarshalBinary decodes the request, strictly; on error m is unchanged.
func (m *ApplyRequest) UnmarshalBinary(data []byte) error {
	d := decoder{name: "ApplyRequest", buf: data}
	var v ApplyRequest
	v.Command = d.bytes()
	v.Timeout = d.duration()
	if err := d.finish(); err != nil {
		return err
	}
	*m = v
	return nil
}

// ApplyResponse reports the outcome of an ApplyRequest: the log index the
// command was committed at and what the FSM's Apply returned.
type ApplyResponse struct {
	Status
	// Index is the log index of the applied command.
	Index uint64
	// ResultKind says how to read Result.
	ResultKind ResultKind
	// Result is the FSM's return value: empty for ResultNil, the bytes or
	// string for ResultBytes and ResultString, the error text for
	// ResultError.
	Result []byte
}

// MessageType returns TypeApplyResponse.
func (ApplyResponse) MessageType() Type { return TypeApplyResponse }

// MarshalBinary encodes the response. It fails for an unknown Code or
// ResultKind, and for a non-empty Result with ResultNil.
func (m ApplyResponse) MarshalBinary() ([]byte, error) {
	e := encoder{name: "ApplyResponse", buf: make([]byte, 0, len(m.Result)+len(m.Message)+32)}
	m.Status.encode(&e)
	e.uvarint(m.Index)
	if !m.ResultKind.Valid() {
		e.invalid("unknown result kind %d", m.ResultKind)
	}
	if m.ResultKind == ResultNil && len(m.Result) != 0 {
		e.invalid("result kind %v with %d result bytes", ResultNil, len(m.Result))
	}
	e.byte(byte(m.ResultKind))
	e.bytes(m.Result)
	return e.result()
}

// UnmarshalBinary decodes the response, strictly; on error m is unchanged.
func (m *ApplyResponse) UnmarshalBinary(data []byte) error {
	d := decoder{name: "ApplyResponse", buf: data}
	var v ApplyResponse
	v.Status = decodeStatus(&d)
	v.Index = d.uvarint()
	v.ResultKind = ResultKind(d.byte())
	if d.err == nil && !v.ResultKind.Valid() {
		d.off--
		d.fail("unknown result kind %d", v.ResultKind)
	}
	v.Result = d.bytes()
	if d.err == nil && v.ResultKind == ResultNil && len(v.Result) != 0 {
		d.fail("result kind %v with %d result bytes", ResultNil, len(v.Result))
	}
	if err := d.finish(); err != nil {
		return err
	}
	*m = v
	return nil
}
