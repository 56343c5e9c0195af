package wire

import "time"

// ReadIndexRequest asks the leader for an index at which a read of the
// given consistency level may be served.
type ReadIndexRequest struct {
	// Level is the read level as numbered by package consistency; wire
	// carries it as one byte and leaves its validation to the server.
	Level uint8
	// Timeout bounds the request on the leader; zero means its default.
	Timeout time.Duration
	// Voucher is the asking follower's own evidence for a Strong read
	// (see package raftsync, readvoucher.go); the zero value claims none.
	Voucher ReadVoucher
}

// ReadVoucher is what a follower states about itself when it asks for a
// read index: the raft term it was in, read after the reads it asks for
// had started, and the leader's stamp it had received before that.
type ReadVoucher struct {
	VoterID string
	Term    uint64
	Stamp   uint64
}

// MessageType returns TypeReadIndexRequest.
func (ReadIndexRequest) MessageType() Type { return TypeReadIndexRequest }

// MarshalBinary encodes the request; it never fails.
func (m ReadIndexRequest) MarshalBinary() ([]byte, error) {
	e := encoder{name: "ReadIndexRequest", buf: make([]byte, 0, 1+4*maxVarint+len(m.Voucher.VoterID))}
	e.byte(m.Level)
	e.duration(m.Timeout)
	e.string(m.Voucher.VoterID)
	e.uvarint(m.Voucher.Term)
	e.uvarint(m.Voucher.Stamp)
	return e.result()
}

// UnmarshalBinary decodes the request, strictly; on error m is unchanged.
func (m *ReadIndexRequest) UnmarshalBinary(data []byte) error {
	d := decoder{name: "ReadIndexRequest", buf: data}
	var v ReadIndexRequest
	v.Level = d.byte()
	v.Timeout = d.duration()
	v.Voucher.VoterID = d.string()
	v.Voucher.Term = d.uvarint()
	v.Voucher.Stamp = d.uvarint()
	if err := d.finish(); err != nil {
		return err
	}
	*m = v
	return nil
}

// ReadIndexResponse carries the read index the leader granted and the term
// it was granted in, and the leader's current stamp for the follower's
// next voucher (zero: none).
type ReadIndexResponse struct {
	Status
	Index, Term uint64
	Stamp       uint64
}

// MessageType returns TypeReadIndexResponse.
func (ReadIndexResponse) MessageType() Type { return TypeReadIndexResponse }

// MarshalBinary encodes the response; it fails only for an unknown Code.
func (m ReadIndexResponse) MarshalBinary() ([]byte, error) {
	e := encoder{name: "ReadIndexResponse", buf: make([]byte, 0, m.Status.size()+3*maxVarint)}
	m.Status.encode(&e)
	e.uvarint(m.Index)
	e.uvarint(m.Term)
	e.uvarint(m.Stamp)
	return e.result()
}

// UnmarshalBinary decodes the response, strictly; on error m is unchanged.
func (m *ReadIndexResponse) UnmarshalBinary(data []byte) error {
	d := decoder{name: "ReadIndexResponse", buf: data}
	var v ReadIndexResponse
	v.Status = decodeStatus(&d)
	v.Index = d.uvarint()
	v.Term = d.uvarint()
	v.Stamp = d.uvarint()
	if err := d.finish(); err != nil {
		return err
	}
	*m = v
	return nil
}

// ConfirmRequest is one leadership-confirmation round sent by the leader
// (LeaderID, in Term) to a follower.
type ConfirmRequest struct {
	Term     uint64
	LeaderID string
}

// MessageType returns TypeConfirmRequest.
func (ConfirmRequest) MessageType() Type { return TypeConfirmRequest }

// MarshalBinary encodes the request; it never fails.
func (m ConfirmRequest) MarshalBinary() ([]byte, error) {
	e := encoder{name: "ConfirmRequest", buf: make([]byte, 0, 2*maxVarint+len(m.LeaderID))}
	e.uvarint(m.Term)
	e.string(m.LeaderID)
	return e.result()
}

// UnmarshalBinary decodes the request, strictly; on error m is unchanged.
func (m *ConfirmRequest) UnmarshalBinary(data []byte) error {
	d := decoder{name: "ConfirmRequest", buf: data}
	var v ConfirmRequest
	v.Term = d.uvarint()
	v.LeaderID = d.string()
	if err := d.finish(); err != nil {
		return err
	}
	*m = v
	return nil
}

// ConfirmResponse is a follower's answer to a ConfirmRequest: the term and
// leader it currently recognises.
type ConfirmResponse struct {
	Status
	Term     uint64
	LeaderID string
	// RefusesCandidatesFor is a duration the follower reports for the leader's lease
	// computation (its meaning belongs to the node, not to wire). It is
	// carried as a signed varint, so zero and negative values survive.
	RefusesCandidatesFor time.Duration
}

// MessageType returns TypeConfirmResponse.
func (ConfirmResponse) MessageType() Type { return TypeConfirmResponse }

// MarshalBinary encodes the response; it fails only for an unknown Code.
func (m ConfirmResponse) MarshalBinary() ([]byte, error) {
	e := encoder{name: "ConfirmResponse", buf: make([]byte, 0, m.Status.size()+3*maxVarint+len(m.LeaderID))}
	m.Status.encode(&e)
	e.uvarint(m.Term)
	e.string(m.LeaderID)
	e.duration(m.RefusesCandidatesFor)
	return e.result()
}

// UnmarshalBinary decodes the response, strictly; on error m is unchanged.
func (m *ConfirmResponse) UnmarshalBinary(data []byte) error {
	d := decoder{name: "ConfirmResponse", buf: data}
	var v ConfirmResponse
	v.Status = decodeStatus(&d)
	v.Term = d.uvarint()
	v.LeaderID = d.string()
	v.RefusesCandidatesFor = d.duration()
	if err := d.finish(); err != nil {
		return err
	}
	*m = v
	return nil
}
