package wire

import "time"

// JoinRequest asks the leader to add a server to the cluster.
type JoinRequest struct {
	// ID and Addr are the joining server's Raft ID and address.
	ID, Addr string
	// NonVoter adds the server as a non-voting member (a read replica).
	NonVoter bool
	// ClusterID is the cluster the joiner expects to join; empty when it
	// has no expectation.
	ClusterID string
}

// MessageType returns TypeJoinRequest.
func (JoinRequest) MessageType() Type { return TypeJoinRequest }

// MarshalBinary encodes the request; it never fails.
func (m JoinRequest) MarshalBinary() ([]byte, error) {
	e := encoder{name: "JoinRequest"}
	e.string(m.ID)
	e.string(m.Addr)
	e.bool(m.NonVoter)
	e.string(m.ClusterID)
	return e.result()
}

// UnmarshalBinary decodes the request, strictly; on error m is unchanged.
func (m *JoinRequest) UnmarshalBinary(data []byte) error {
	d := decoder{name: "JoinRequest", buf: data}
	var v JoinRequest
	v.ID = d.string()
	v.Addr = d.string()
	v.NonVoter = d.bool()
	v.ClusterID = d.string()
	if err := d.finish(); err != nil {
		return err
	}
	*m = v
	return nil
}

// JoinResponse reports the outcome of a JoinRequest.
type JoinResponse struct {
	Status
	// ClusterID is the identity of the cluster joined.
	ClusterID string
	// Index is the log index of the configuration change.
	Index uint64
}

// MessageType returns TypeJoinResponse.
func (JoinResponse) MessageType() Type { return TypeJoinResponse }

// MarshalBinary encodes the response; it fails only for an unknown Code.
func (m JoinResponse) MarshalBinary() ([]byte, error) {
	e := encoder{name: "JoinResponse"}
	m.Status.encode(&e)
	e.string(m.ClusterID)
	e.uvarint(m.Index)
	return e.result()
}

// UnmarshalBinary decodes the response, strictly; on error m is unchanged.
func (m *JoinResponse) UnmarshalBinary(data []byte) error {
	d := decoder{name: "JoinResponse", buf: data}
	var v JoinResponse
	v.Status = decodeStatus(&d)
	v.ClusterID = d.string()
	v.Index = d.uvarint()
	if err := d.finish(); err != nil {
		return err
	}
	*m = v
	return nil
}

// RemoveRequest asks the leader to remove a server from the cluster.
type RemoveRequest struct {
	// ID is the Raft ID of the server to remove.
	ID string
	// Timeout bounds the change on the leader; zero means its default.
	Timeout time.Duration
}

// MessageType returns TypeRemoveRequest.
func (RemoveRequest) MessageType() Type { return TypeRemoveRequest }

// MarshalBinary encodes the request; it never fails.
func (m RemoveRequest) MarshalBinary() ([]byte, error) {
	e := encoder{name: "RemoveRequest"}
	e.string(m.ID)
	e.duration(m.Timeout)
	return e.result()
}

// UnmarshalBinary decodes the request, strictly; on error m is unchanged.
func (m *RemoveRequest) UnmarshalBinary(data []byte) error {
	d := decoder{name: "RemoveRequest", buf: data}
	var v RemoveRequest
	v.ID = d.string()
	v.Timeout = d.duration()
	if err := d.finish(); err != nil {
		return err
	}
	*m = v
	return nil
}

// RemoveResponse reports the outcome of a RemoveRequest.
type RemoveResponse struct {
	Status
	// Index is the log index of the configuration change.
	Index uint64
}

// MessageType returns TypeRemoveResponse.
func (RemoveResponse) MessageType() Type { return TypeRemoveResponse }

// MarshalBinary encodes the response; it fails only for an unknown Code.
func (m RemoveResponse) MarshalBinary() ([]byte, error) {
	e := encoder{name: "RemoveResponse"}
	m.Status.encode(&e)
	e.uvarint(m.Index)
	return e.result()
}

// UnmarshalBinary decodes the response, strictly; on error m is unchanged.
func (m *RemoveResponse) UnmarshalBinary(data []byte) error {
	d := decoder{name: "RemoveResponse", buf: data}
	var v RemoveResponse
	v.Status = decodeStatus(&d)
	v.Index = d.uvarint()
	if err := d.finish(); err != nil {
		return err
	}
	*m = v
	return nil
}
