package wire

// StatusRequest asks a node to describe itself. Its body is empty.
type StatusRequest struct{}

// MessageType returns TypeStatusRequest.
func (StatusRequest) MessageType() Type { return TypeStatusRequest }

// MarshalBinary returns an empty encoding; it never fails.
func (StatusRequest) MarshalBinary() ([]byte, error) { return []byte{}, nil }

// UnmarshalBinary accepts only an empty body.
func (*StatusRequest) UnmarshalBinary(data []byte) error {
	d := decoder{name: "StatusRequest", buf: data}
	return d.finish()
}

// StatusResponse describes the answering node: who it is, what it believes
// about the cluster, and how far its log has got.
type StatusResponse struct {
	Status
	// ID is the node's Raft ID and State its Raft state ("Leader",
	// "Follower", ...).
	ID, State string
	// LeaderID and LeaderAddr name the leader as the node knows it. (They
	// shadow the Status fields of the same names, which describe the
	// outcome of the request itself.)
	LeaderID, LeaderAddr string
	// ClusterID is the identity of the node's cluster.
	ClusterID string
	// Term, CommitIndex, AppliedIndex and LastIndex are the node's Raft
	// term, commit index, FSM-applied index and last log index.
	Term, CommitIndex, AppliedIndex, LastIndex uint64
}

// MessageType returns TypeStatusResponse.
func (StatusResponse) MessageType() Type { return TypeStatusResponse }

// MarshalBinary encodes the response; it fails only for an unknown Code.
func (m StatusResponse) MarshalBinary() ([]byte, error) {
	e := encoder{name: "StatusResponse"}
	m.Status.encode(&e)
	e.string(m.ID)
	e.string(m.State)
	e.string(m.LeaderID)
	e.string(m.LeaderAddr)
	e.string(m.ClusterID)
	e.uvarint(m.Term)
	e.uvarint(m.CommitIndex)
	e.uvarint(m.AppliedIndex)
	e.uvarint(m.LastIndex)
	return e.result()
}

// UnmarshalBinary decodes the response, strictly; on error m is unchanged.
func (m *StatusResponse) UnmarshalBinary(data []byte) error {
	d := decoder{name: "StatusResponse", buf: data}
	var v StatusResponse
	v.Status = decodeStatus(&d)
	v.ID = d.string()
	v.State = d.string()
	v.LeaderID = d.string()
	v.LeaderAddr = d.string()
	v.ClusterID = d.string()
	v.Term = d.uvarint()
	v.CommitIndex = d.uvarint()
	v.AppliedIndex = d.uvarint()
	v.LastIndex = d.uvarint()
	if err := d.finish(); err != nil {
		return err
	}
	*m = v
	return nil
}
