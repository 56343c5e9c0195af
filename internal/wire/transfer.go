package wire

import "time"

// TransferCheckRequest asks the leader of Term whether a leadership
// transfer it started is in progress right now. A node sends it before it
// lets raft act on a TimeoutNow or on a vote request carrying raft's
// leadership-transfer flag, and acts only on a yes received within Window
// of asking (on its own clock).
type TransferCheckRequest struct {
	// Term is the asking node's current raft term.
	Term uint64
	// Window is how long after asking the asking node may still act on a
	// yes; the leader keeps its lease void that long after answering.
	Window time.Duration
}

// MessageType returns TypeTransferCheckRequest.
func (TransferCheckRequest) MessageType() Type { return TypeTransferCheckRequest }

// MarshalBinary encodes the request; it never fails.
func (m TransferCheckRequest) MarshalBinary() ([]byte, error) {
	e := encoder{name: "TransferCheckRequest"}
	e.uvarint(m.Term)
	e.duration(m.Window)
	return e.result()
}

// UnmarshalBinary decodes the request, strictly; on error m is unchanged.
func (m *TransferCheckRequest) UnmarshalBinary(data []byte) error {
	d := decoder{name: "TransferCheckRequest", buf: data}
	var v TransferCheckRequest
	v.Term = d.uvarint()
	v.Window = d.duration()
	if err := d.finish(); err != nil {
		return err
	}
	*m = v
	return nil
}

// TransferCheckResponse answers a TransferCheckRequest: CodeOK means yes,
// any other code no.
type TransferCheckResponse struct {
	Status
}

// MessageType returns TypeTransferCheckResponse.
func (TransferCheckResponse) MessageType() Type { return TypeTransferCheckResponse }

// MarshalBinary encodes the response; it fails only for an unknown Code.
func (m TransferCheckResponse) MarshalBinary() ([]byte, error) {
	e := encoder{name: "TransferCheckResponse"}
	m.Status.encode(&e)
	return e.result()
}

// UnmarshalBinary decodes the response, strictly; on error m is unchanged.
func (m *TransferCheckResponse) UnmarshalBinary(data []byte) error {
	d := decoder{name: "TransferCheckResponse", buf: data}
	var v TransferCheckResponse
	v.Status = decodeStatus(&d)
	if err := d.finish(); err != nil {
		return err
	}
	*m = v
	return nil
}
