package wire

import "fmt"

// Message is implemented by a pointer to every message struct of this
// package.
type Message interface {
	// MessageType returns the frame Type that carries this message.
	MessageType() Type
	// MarshalBinary encodes the message. It fails, wrapping ErrMalformed,
	// only when a field holds a value the protocol cannot carry (an
	// unknown Code, say).
	MarshalBinary() ([]byte, error)
	// UnmarshalBinary decodes data into the message, strictly. On error,
	// which wraps ErrMalformed, the message is unchanged. The message
	// keeps no reference to data.
	UnmarshalBinary(data []byte) error
}

// NewMessage returns a new zero message of type t (a *Status for
// TypeError), or nil when t is not a Type this version defines. A server
// uses it to decode a request whose type it has not yet checked.
func NewMessage(t Type) Message {
	switch t {
	case TypeApplyRequest:
		return new(ApplyRequest)
	case TypeApplyResponse:
		return new(ApplyResponse)
	case TypeJoinRequest:
		return new(JoinRequest)
	case TypeJoinResponse:
		return new(JoinResponse)
	case TypeRemoveRequest:
		return new(RemoveRequest)
	case TypeRemoveResponse:
		return new(RemoveResponse)
	case TypeStatusRequest:
		return new(StatusRequest)
	case TypeStatusResponse:
		return new(StatusResponse)
	case TypeReadIndexRequest:
		return new(ReadIndexRequest)
	case TypeReadIndexResponse:
		return new(ReadIndexResponse)
	case TypeConfirmRequest:
		return new(ConfirmRequest)
	case TypeConfirmResponse:
		return new(ConfirmResponse)
	case TypeError:
		return new(Status)
	case TypeTransferCheckRequest:
		return new(TransferCheckRequest)
	case TypeTransferCheckResponse:
		return new(TransferCheckResponse)
	case TypeServerStatsRequest:
		return new(ServerStatsRequest)
	case TypeServerStatsResponse:
		return new(ServerStatsResponse)
	case TypeRemovedNotice:
		return new(RemovedNotice)
	case TypeRemovedNoticeResponse:
		return new(RemovedNoticeResponse)
	}
	return nil
}

// Encode marshals m into a Frame of m's Type with the given request ID.
// It returns m's marshalling error, which wraps ErrMalformed.
func Encode(id uint64, m Message) (Frame, error) {
	body, err := m.MarshalBinary()
	if err != nil {
		return Frame{}, err
	}
	return Frame{Type: m.MessageType(), ID: id, Body: body}, nil
}

// statusCarrier is implemented by *Status and, through embedding, by a
// pointer to every response.
type statusCarrier interface {
	statusField() *Status
}

func (s *Status) statusField() *Status { return s }

// Decode unmarshals f's body into m after checking that f carries m's Type.
//
// A response (any message that embeds Status) also accepts a TypeError
// frame: its Status is decoded into m's embedded Status and every other
// field of m is left as it was, so callers pass a fresh value and look at
// the Code. A TypeError frame whose Code is CodeOK is rejected, so a
// response decoded from an error frame never looks successful.
//
// Any other Type, and any body that does not decode, gives an error
// wrapping ErrMalformed and leaves m unchanged.
func Decode(f Frame, m Message) error {
	if f.Type == m.MessageType() {
		return m.UnmarshalBinary(f.Body)
	}
	if sc, ok := m.(statusCarrier); ok && f.Type == TypeError {
		var s Status
		if err := s.UnmarshalBinary(f.Body); err != nil {
			return err
		}
		if s.Code == CodeOK {
			return fmt.Errorf("%w: %v frame with code %v", ErrMalformed, TypeError, CodeOK)
		}
		*sc.statusField() = s
		return nil
	}
	return fmt.Errorf("%w: frame type %v, want %v", ErrMalformed, f.Type, m.MessageType())
}

// Status is the outcome every response reports as its first field, and the
// whole body of a TypeError frame. The zero value means success (CodeOK).
type Status struct {
	// Code is the outcome.
	Code Code
	// Message explains a failure in words, for people; never parse it.
	Message string
	// LeaderID and LeaderAddr name the leader as the server knows it,
	// notably with CodeNotLeader; empty when unknown.
	LeaderID, LeaderAddr string
}

// OK reports whether the status is CodeOK.
func (s Status) OK() bool { return s.Code == CodeOK }

func (s Status) encode(e *encoder) {
	if !s.Code.Valid() {
		e.invalid("unknown status code %d", s.Code)
	}
	e.byte(byte(s.Code))
	e.string(s.Message)
	e.string(s.LeaderID)
	e.string(s.LeaderAddr)
}

// size bounds the length of the status's encoding, so that an encoder can
// allocate its buffer once.
func (s Status) size() int {
	return 1 + 3*maxVarint + len(s.Message) + len(s.LeaderID) + len(s.LeaderAddr)
}

func decodeStatus(d *decoder) Status {
	var s Status
	s.Code = Code(d.byte())
	if !s.Code.Valid() {
		d.off--
		d.fail("unknown status code %d", s.Code)
	}
	s.Message = d.string()
	s.LeaderID = d.string()
	s.LeaderAddr = d.string()
	return s
}

// MessageType returns TypeError: a bare Status travels as an error frame.
func (Status) MessageType() Type { return TypeError }

// MarshalBinary encodes the status; it fails only for an unknown Code.
func (s Status) MarshalBinary() ([]byte, error) {
	e := encoder{name: "Status"}
	s.encode(&e)
	return e.result()
}

// UnmarshalBinary decodes a bare status, strictly; on error s is unchanged.
func (s *Status) UnmarshalBinary(data []byte) error {
	d := decoder{name: "Status", buf: data}
	v := decodeStatus(&d)
	if err := d.finish(); err != nil {
		return err
	}
	*s = v
	return nil
}
