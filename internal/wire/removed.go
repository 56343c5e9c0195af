package wire

// RemovedNotice tells a server that the leader committed the
// configuration entry at Index, which removes it (ID) from the cluster
// ClusterID. The leader sends it because raft delivers that entry to the
// removed server only on a best-effort basis.
type RemovedNotice struct {
	// ClusterID is the cluster the server was removed from.
	ClusterID string
	// ID is the removed server's ID.
	ID string
	// Index is the log index of the configuration entry that removed it.
	Index uint64
}

// MessageType returns TypeRemovedNotice.
func (RemovedNotice) MessageType() Type { return TypeRemovedNotice }

// MarshalBinary encodes the notice; it never fails.
func (m RemovedNotice) MarshalBinary() ([]byte, error) {
	e := encoder{name: "RemovedNotice"}
	e.string(m.ClusterID)
	e.string(m.ID)
	e.uvarint(m.Index)
	return e.result()
}

// UnmarshalBinary decodes the notice, strictly; on error m is unchanged.
func (m *RemovedNotice) UnmarshalBinary(data []byte) error {
	d := decoder{name: "RemovedNotice", buf: data}
	var v RemovedNotice
	v.ClusterID = d.string()
	v.ID = d.string()
	v.Index = d.uvarint()
	if err := d.finish(); err != nil {
		return err
	}
	*m = v
	return nil
}

// RemovedNoticeResponse answers a RemovedNotice: CodeOK when the server
// took note of it.
type RemovedNoticeResponse struct {
	Status
}

// MessageType returns TypeRemovedNoticeResponse.
func (RemovedNoticeResponse) MessageType() Type { return TypeRemovedNoticeResponse }

// MarshalBinary encodes the response; it fails only for an unknown Code.
func (m RemovedNoticeResponse) MarshalBinary() ([]byte, error) {
	e := encoder{name: "RemovedNoticeResponse"}
	m.Status.encode(&e)
	return e.result()
}

// UnmarshalBinary decodes the response, strictly; on error m is unchanged.
func (m *RemovedNoticeResponse) UnmarshalBinary(data []byte) error {
	d := decoder{name: "RemovedNoticeResponse", buf: data}
	var v RemovedNoticeResponse
	v.Status = decodeStatus(&d)
	if err := d.finish(); err != nil {
		return err
	}
	*m = v
	return nil
}
