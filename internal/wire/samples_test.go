package wire

import (
	"strings"
	"time"
)

// sample is one message value used by the round-trip, malformed-input and
// fuzz tests.
type sample struct {
	name string
	typ  Type
	msg  Message
}

var notLeader = Status{Code: CodeNotLeader, Message: "not the leader", LeaderID: "n2", LeaderAddr: "10.0.0.2:7000"}

// fullSamples holds one message of every type with every field set to a
// non-zero value, including values that need multi-byte varints.
func fullSamples() []sample {
	return []sample{
		{"ApplyRequest", TypeApplyRequest, &ApplyRequest{Command: []byte("set k v"), Timeout: 1500 * time.Millisecond}},
		{"ApplyRequestNegativeTimeout", TypeApplyRequest, &ApplyRequest{Command: []byte{0}, Timeout: -time.Second}},
		{"ApplyResponseBytes", TypeApplyResponse, &ApplyResponse{Index: 1 << 40, ResultKind: ResultBytes, Result: []byte{1, 2, 3}}},
		{"ApplyResponseError", TypeApplyResponse, &ApplyResponse{Status: Status{Code: CodeApplication, Message: "fsm said no"}, Index: 7, ResultKind: ResultError, Result: []byte("bad key")}},
		{"ApplyResponseString", TypeApplyResponse, &ApplyResponse{Index: 300, ResultKind: ResultString, Result: []byte(strings.Repeat("x", 200))}},
		{"JoinRequest", TypeJoinRequest, &JoinRequest{ID: "n4", Addr: "10.0.0.4:7000", NonVoter: true, ClusterID: "c-1"}},
		{"JoinResponse", TypeJoinResponse, &JoinResponse{Status: notLeader, ClusterID: "c-1", Index: 99}},
		{"RemoveRequest", TypeRemoveRequest, &RemoveRequest{ID: "n3", Timeout: time.Minute}},
		{"RemoveResponse", TypeRemoveResponse, &RemoveResponse{Status: Status{Code: CodeTimeout}, Index: 12}},
		{"StatusRequest", TypeStatusRequest, &StatusRequest{}},
		{"StatusResponse", TypeStatusResponse, &StatusResponse{
			Status: Status{Code: CodeNotReady, Message: "catching up"},
			ID:     "n1", State: "Follower", LeaderID: "n2", LeaderAddr: "10.0.0.2:7000", ClusterID: "c-1",
			Term: 5, CommitIndex: 1000, AppliedIndex: 998, LastIndex: 1001,
		}},
		{"ReadIndexRequest", TypeReadIndexRequest, &ReadIndexRequest{Level: 2, Timeout: 250 * time.Millisecond, Voucher: ReadVoucher{VoterID: "n2", Term: 7, Stamp: 1 << 60}}},
		{"ReadIndexResponse", TypeReadIndexResponse, &ReadIndexResponse{Index: 4096, Term: 3, Stamp: 1<<63 + 5}},
		{"ConfirmRequest", TypeConfirmRequest, &ConfirmRequest{Term: 9, LeaderID: "n1"}},
		{"ConfirmResponse", TypeConfirmResponse, &ConfirmResponse{Status: Status{Code: CodeInternal, Message: "x"}, Term: 9, LeaderID: "n1", RefusesCandidatesFor: 800 * time.Millisecond}},
		{"TransferCheckRequest", TypeTransferCheckRequest, &TransferCheckRequest{Term: 1 << 33, Window: 250 * time.Millisecond}},
		{"TransferCheckResponse", TypeTransferCheckResponse, &TransferCheckResponse{Status: notLeader}},
		{"ServerStatsRequest", TypeServerStatsRequest, &ServerStatsRequest{LeaderID: "n1", HealthKnown: true, Healthy: true, FailureTolerance: 1, Voters: 3, Age: 40 * time.Millisecond, Servers: []ServerHealth{
			{ID: "n1", Addr: "10.0.0.1:7000", Leader: true, Voter: true, Healthy: true, StableFor: time.Hour, TrailingLogs: 0},
			{ID: "n4", Addr: "10.0.0.4:7000", PromotionPending: true, Dead: true, StableFor: 3 * time.Second, LastContact: -1, TrailingLogs: 1 << 20},
		}}},
		{"ServerStatsResponse", TypeServerStatsResponse, &ServerStatsResponse{Status: notLeader, ID: "n4", LastContact: -time.Second, LastTerm: 1 << 33, LastIndex: 1 << 40, WantsVoter: true}},
		{"RemovedNotice", TypeRemovedNotice, &RemovedNotice{ClusterID: "c-1", ID: "n3", Index: 1 << 35}},
		{"RemovedNoticeResponse", TypeRemovedNoticeResponse, &RemovedNoticeResponse{Status: Status{Code: CodePermissionDenied, Message: "no member"}}},
		{"Status", TypeError, &Status{Code: CodeBadRequest, Message: "cannot decode ApplyRequest", LeaderID: "n2", LeaderAddr: "a:1"}},
	}
}

// zeroSamples holds the zero value of every message type.
func zeroSamples() []sample {
	var out []sample
	for t := range Type(255) {
		if t.Valid() {
			out = append(out, sample{"Zero" + t.String(), t, NewMessage(t)})
		}
	}
	return out
}
