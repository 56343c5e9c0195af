package wire

import "time"

// ServerStatsRequest asks a member for the figures the leader's autopilot
// judges its health by. The leader sends it to every member at each
// autopilot update, with its last view of the cluster's health, so that
// every member can show it.
type ServerStatsRequest struct {
	// LeaderID names the sending leader.
	LeaderID string
	// HealthKnown reports that the fields below hold the leader's view;
	// false before its first evaluation.
	HealthKnown bool
	// Healthy: every member passed its last health check.
	Healthy bool
	// FailureTolerance is how many voters can fail with a quorum left;
	// Voters is how many there are.
	FailureTolerance, Voters uint64
	// Age is how long before sending the view was evaluated.
	Age time.Duration
	// Servers holds one entry per member; at most MaxHealthServers.
	Servers []ServerHealth
}

// MaxHealthServers bounds ServerStatsRequest.Servers.
const MaxHealthServers = 1024

// ServerHealth is one member's health in a ServerStatsRequest.
type ServerHealth struct {
	ID, Addr                                       string
	Leader, Voter, Healthy, PromotionPending, Dead bool
	// StableFor is how long before sending Healthy last changed.
	StableFor time.Duration
	// LastContact is the member's time since it last heard from the
	// leader (negative: never).
	LastContact  time.Duration
	TrailingLogs uint64
}

// MessageType returns TypeServerStatsRequest.
func (ServerStatsRequest) MessageType() Type { return TypeServerStatsRequest }

// MarshalBinary encodes the request; it fails only with more than
// MaxHealthServers servers.
func (m ServerStatsRequest) MarshalBinary() ([]byte, error) {
	e := encoder{name: "ServerStatsRequest"}
	if len(m.Servers) > MaxHealthServers {
		e.invalid("%d servers, at most %d", len(m.Servers), MaxHealthServers)
	}
	e.string(m.LeaderID)
	e.bool(m.HealthKnown)
	e.bool(m.Healthy)
	e.uvarint(m.FailureTolerance)
	e.uvarint(m.Voters)
	e.duration(m.Age)
	e.uvarint(uint64(len(m.Servers)))
	for _, s := range m.Servers {
		e.string(s.ID)
		e.string(s.Addr)
		e.bool(s.Leader)
		e.bool(s.Voter)
		e.bool(s.Healthy)
		e.bool(s.PromotionPending)
		e.bool(s.Dead)
		e.duration(s.StableFor)
		e.duration(s.LastContact)
		e.uvarint(s.TrailingLogs)
	}
	return e.result()
}

// UnmarshalBinary decodes the request, strictly; on error m is unchanged.
func (m *ServerStatsRequest) UnmarshalBinary(data []byte) error {
	d := decoder{name: "ServerStatsRequest", buf: data}
	var v ServerStatsRequest
	v.LeaderID = d.string()
	v.HealthKnown = d.bool()
	v.Healthy = d.bool()
	v.FailureTolerance = d.uvarint()
	v.Voters = d.uvarint()
	v.Age = d.duration()
	n := d.uvarint()
	switch {
	case d.err != nil:
	case n > MaxHealthServers:
		d.fail("%d servers, at most %d", n, MaxHealthServers)
	case n > uint64(len(d.buf)-d.off):
		d.fail("%d servers in %d bytes", n, len(d.buf)-d.off)
	default:
		for range n {
			var s ServerHealth
			s.ID = d.string()
			s.Addr = d.string()
			s.Leader = d.bool()
			s.Voter = d.bool()
			s.Healthy = d.bool()
			s.PromotionPending = d.bool()
			s.Dead = d.bool()
			s.StableFor = d.duration()
			s.LastContact = d.duration()
			s.TrailingLogs = d.uvarint()
			if d.err != nil {
				break
			}
			v.Servers = append(v.Servers, s)
		}
	}
	if err := d.finish(); err != nil {
		return err
	}
	*m = v
	return nil
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
