package wire

import "strconv"

// Type says which message a frame's body holds. The values are part of the
// protocol; zero is not a valid Type.
type Type uint8

// Message types. Each request type is followed by its response type.
const (
	TypeApplyRequest      Type = 1
	TypeApplyResponse     Type = 2
	TypeJoinRequest       Type = 3
	TypeJoinResponse      Type = 4
	TypeRemoveRequest     Type = 5
	TypeRemoveResponse    Type = 6
	TypeStatusRequest     Type = 7
	TypeStatusResponse    Type = 8
	TypeReadIndexRequest  Type = 9
	TypeReadIndexResponse Type = 10
	TypeConfirmRequest    Type = 11
	TypeConfirmResponse   Type = 12
	// 13 and 14 are retired (a leadership-transfer request that was
	// never sent): they are not valid, and must not be given to a new
	// message, so that a peer of another version cannot mistake one for
	// the other.
	// TypeError carries a bare Status: the answer of a server that could
	// not decode or serve a request at all.
	TypeError Type = 15
	// TypeTransferCheckRequest asks a leader whether a leadership
	// transfer is in progress (see TransferCheckRequest).
	TypeTransferCheckRequest  Type = 16
	TypeTransferCheckResponse Type = 17
	// TypeServerStatsRequest asks a member for the figures the leader's
	// autopilot judges its health by (see ServerStatsRequest).
	TypeServerStatsRequest  Type = 18
	TypeServerStatsResponse Type = 19
	// TypeRemovedNotice tells a server the leader removed it from the
	// cluster (see RemovedNotice).
	TypeRemovedNotice         Type = 20
	TypeRemovedNoticeResponse Type = 21
)

var typeNames = [...]string{
	TypeApplyRequest:          "ApplyRequest",
	TypeApplyResponse:         "ApplyResponse",
	TypeJoinRequest:           "JoinRequest",
	TypeJoinResponse:          "JoinResponse",
	TypeRemoveRequest:         "RemoveRequest",
	TypeRemoveResponse:        "RemoveResponse",
	TypeStatusRequest:         "StatusRequest",
	TypeStatusResponse:        "StatusResponse",
	TypeReadIndexRequest:      "ReadIndexRequest",
	TypeReadIndexResponse:     "ReadIndexResponse",
	TypeConfirmRequest:        "ConfirmRequest",
	TypeConfirmResponse:       "ConfirmResponse",
	TypeError:                 "Error",
	TypeTransferCheckRequest:  "TransferCheckRequest",
	TypeTransferCheckResponse: "TransferCheckResponse",
	TypeServerStatsRequest:    "ServerStatsRequest",
	TypeServerStatsResponse:   "ServerStatsResponse",
	TypeRemovedNotice:         "RemovedNotice",
	TypeRemovedNoticeResponse: "RemovedNoticeResponse",
}

// Valid reports whether t is a Type this version of the protocol defines;
// a retired number is not.
func (t Type) Valid() bool { return int(t) < len(typeNames) && typeNames[t] != "" }

// String returns the message name ("ApplyRequest"), or "Type(N)" for a
// value this version does not define.
func (t Type) String() string {
	if t.Valid() {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Code is the outcome a response reports in its Status. The zero value is
// CodeOK, so a zero Status means success.
type Code uint8

// Response codes. The values are part of the protocol.
const (
	// CodeOK: the request was served.
	CodeOK Code = 0
	// CodeNotLeader: the node is not the leader; Status.LeaderID and
	// LeaderAddr name the leader when it is known.
	CodeNotLeader Code = 1
	// CodeNoLeader: no leader is known at the moment.
	CodeNoLeader Code = 2
	// CodeClosed: the node is shutting down.
	CodeClosed Code = 3
	// CodeTooLarge: the request or its response exceeds a size limit.
	CodeTooLarge Code = 4
	// CodeBadRequest: the request could not be decoded or is invalid; it
	// changed nothing.
	CodeBadRequest Code = 5
	// CodeNotReady: the node cannot serve this request yet.
	CodeNotReady Code = 6
	// CodeTimeout: the request's time ran out before it was served.
	CodeTimeout Code = 7
	// CodeApplication: the application (its FSM) returned an error, whose
	// text is in Status.Message.
	CodeApplication Code = 8
	// CodeInternal: an unexpected failure on the server.
	CodeInternal Code = 9
	// CodeIndeterminate: the server started the operation but cannot say
	// whether it took effect (leadership lost after the append, time ran
	// out while it committed). The caller must not retry blindly.
	CodeIndeterminate Code = 10
	// CodeMismatch: the request names another cluster than the server's.
	CodeMismatch Code = 11
	// CodePermissionDenied: the peer's identity does not allow the
	// request; it changed nothing.
	CodePermissionDenied Code = 12
	// CodeLastVoter: the membership change would leave the cluster
	// without a voter; it changed nothing.
	CodeLastVoter Code = 13
)

var codeNames = [...]string{
	CodeOK:               "OK",
	CodeNotLeader:        "NotLeader",
	CodeNoLeader:         "NoLeader",
	CodeClosed:           "Closed",
	CodeTooLarge:         "TooLarge",
	CodeBadRequest:       "BadRequest",
	CodeNotReady:         "NotReady",
	CodeTimeout:          "Timeout",
	CodeApplication:      "Application",
	CodeInternal:         "Internal",
	CodeIndeterminate:    "Indeterminate",
	CodeMismatch:         "Mismatch",
	CodePermissionDenied: "PermissionDenied",
	CodeLastVoter:        "LastVoter",
}

// Valid reports whether c is a Code this version of the protocol defines.
func (c Code) Valid() bool { return int(c) < len(codeNames) }

// String returns the code's name ("NotLeader"), or "Code(N)" for a value
// this version does not define.
func (c Code) String() string {
	if c.Valid() {
		return codeNames[c]
	}
	return "Code(" + strconv.Itoa(int(c)) + ")"
}

// ResultKind says how ApplyResponse.Result is to be read: the application
// FSM's Apply returned nil, a []byte, a string or an error.
type ResultKind uint8

// Result kinds. The values are part of the protocol.
const (
	// ResultNil: the FSM returned nil; Result is empty.
	ResultNil ResultKind = 0
	// ResultBytes: the FSM returned a []byte, held in Result.
	ResultBytes ResultKind = 1
	// ResultString: the FSM returned a string, held in Result.
	ResultString ResultKind = 2
	// ResultError: the FSM returned an error, whose text is in Result.
	ResultError ResultKind = 3
)

var resultKindNames = [...]string{
	ResultNil:    "Nil",
	ResultBytes:  "Bytes",
	ResultString: "String",
	ResultError:  "Error",
}

// Valid reports whether k is a ResultKind this version defines.
func (k ResultKind) Valid() bool { return int(k) < len(resultKindNames) }

// String returns the kind's name ("Bytes"), or "ResultKind(N)" for a value
// this version does not define.
func (k ResultKind) String() string {
	if k.Valid() {
		return resultKindNames[k]
	}
	return "ResultKind(" + strconv.Itoa(int(k)) + ")"
}
