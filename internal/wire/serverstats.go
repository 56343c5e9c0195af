package wire

import "time"

// ServerStatsRequest asks a member for the figures the leader's autopilot
// judges its health by. The leader sends it to every member at each
// autopilot update. Its body is empty.
type ServerStatsRequest struct{}

// MessageType returns TypeServerStatsRequest.
func (ServerStatsRequest) MessageType() Type { return TypeServerStatsRequest }

// MarshalBinary returns an empty encoding; it never fails.
func (ServerStatsRequest) MarshalBinary() ([]byte, error) { return []byte{}, nil }

// UnmarshalBinary accepts only an empty body.
func (*ServerStatsRequest) UnmarshalBinary(data []byte) error {
	d := decoder{name: "ServerStatsRequest", buf: data}
	return d.finish()
}

// ServerStatsResponse answers a ServerStatsRequest.
type ServerStatsResponse struct {
	Status
	// ID is the answering member's Raft ID.
	ID string
	// LastContact is how long ago the member last heard from its leader;
	// negative when it has never heard from one since it started.
	LastContact time.Duration
	// LastTerm and LastIndex are the term and index of the last entry in
	// the member's log.
	LastTerm, LastIndex uint64
	// WantsVoter reports that the member was configured to be a voter: a
	// non-voter that wants to vote is promoted once it is stable.
	WantsVoter bool
}

// MessageType returns TypeServerStatsResponse.
func (ServerStatsResponse) MessageType() Type { return TypeServerStatsResponse }

// MarshalBinary encodes the response; it fails only for an unknown Code.
func (m ServerStatsResponse) MarshalBinary() ([]byte, error) {
	e := encoder{name: "ServerStatsResponse"}
	m.Status.encode(&e)
	e.string(m.ID)
	e.duration(m.LastContact)
	e.uvarint(m.LastTerm)
	e.uvarint(m.LastIndex)
	e.bool(m.WantsVoter)
	return e.result()
}

// UnmarshalBinary decodes the response, strictly; on error m is unchanged.
func (m *ServerStatsResponse) UnmarshalBinary(data []byte) error {
	d := decoder{name: "ServerStatsResponse", buf: data}
	var v ServerStatsResponse
	v.Status = decodeStatus(&d)
	v.ID = d.string()
	v.LastContact = d.duration()
	v.LastTerm = d.uvarint()
	v.LastIndex = d.uvarint()
	v.WantsVoter = d.bool()
	if err := d.finish(); err != nil {
		return err
	}
	*m = v
	return nil
}
