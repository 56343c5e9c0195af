package raftsync

import (
	"context"
	"fmt"
	"time"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/wire"
)

// handleRPC serves one node RPC request. It runs in its own goroutine (see
// package rpc); ctx ends when the connection or the server goes away.
func (n *Node) handleRPC(ctx context.Context, req wire.Frame) wire.Frame {
	if n.life.closed.Load() || !n.life.started.Load() {
		return n.encodeAnswer(req.ID, &wire.Status{Code: wire.CodeClosed, Message: "node closed or still starting"})
	}
	if denied := n.authorizeRPC(ctx, req.Type); denied != nil {
		return n.encodeAnswer(req.ID, denied)
	}
	var answer wire.Message
	switch req.Type {
	case wire.TypeApplyRequest:
		var m wire.ApplyRequest
		if answer = n.decodeRequest(req, &m); answer == nil {
			return n.encodeApplyAnswer(req.ID, n.handleApply(ctx, &m))
		}
	case wire.TypeJoinRequest:
		var m wire.JoinRequest
		if answer = n.decodeRequest(req, &m); answer == nil {
			if denied := n.authorizeJoin(ctx, m.ID); denied != nil {
				answer = &wire.JoinResponse{Status: *denied}
			} else {
				answer = n.handleJoin(ctx, &m)
			}
		}
	case wire.TypeRemoveRequest:
		var m wire.RemoveRequest
		if answer = n.decodeRequest(req, &m); answer == nil {
			answer = n.handleRemove(ctx, &m)
		}
	case wire.TypeStatusRequest:
		var m wire.StatusRequest
		if answer = n.decodeRequest(req, &m); answer == nil {
			answer = n.handleStatus()
		}
	case wire.TypeReadIndexRequest:
		// The read path's messages are decoded and encoded as concrete
		// types, so that they do not escape through wire.Message.
		var m wire.ReadIndexRequest
		if err := m.UnmarshalBinary(req.Body); err != nil {
			answer = n.malformedRequest(req, err)
		} else {
			resp := n.handleReadIndex(ctx, &m)
			return n.encodeBody(req.ID, resp.MessageType(), resp.MarshalBinary)
		}
	case wire.TypeConfirmRequest:
		var m wire.ConfirmRequest
		if err := m.UnmarshalBinary(req.Body); err != nil {
			answer = n.malformedRequest(req, err)
		} else {
			resp := n.handleConfirm(&m)
			return n.encodeBody(req.ID, resp.MessageType(), resp.MarshalBinary)
		}
	case wire.TypeTransferCheckRequest:
		var m wire.TransferCheckRequest
		if answer = n.decodeRequest(req, &m); answer == nil {
			answer = n.handleTransferCheck(&m)
		}
	case wire.TypeServerStatsRequest:
		var m wire.ServerStatsRequest
		if answer = n.decodeRequest(req, &m); answer == nil {
			answer = n.handleServerStats(ctx, &m)
		}
	case wire.TypeRemovedNotice:
		var m wire.RemovedNotice
		if answer = n.decodeRequest(req, &m); answer == nil {
			answer = n.handleRemovedNotice(&m)
		}
	default:
		answer = &wire.Status{Code: wire.CodeBadRequest, Message: fmt.Sprintf("unsupported request type %v", req.Type)}
	}
	return n.encodeAnswer(req.ID, answer)
}

// decodeRequest decodes req into m; it returns an error answer, or nil.
func (n *Node) decodeRequest(req wire.Frame, m wire.Message) wire.Message {
	if err := wire.Decode(req, m); err != nil {
		return n.malformedRequest(req, err)
	}
	return nil
}

// malformedRequest is the answer to a request whose body did not decode.
func (n *Node) malformedRequest(req wire.Frame, err error) wire.Message {
	n.logger.Warn("malformed rpc request", "type", req.Type, "error", err)
	return &wire.Status{Code: wire.CodeBadRequest, Message: err.Error()}
}

// encodeBody is encodeAnswer for an answer of type t that marshal
// encodes, for callers that hold the answer as a concrete value.
func (n *Node) encodeBody(id uint64, t wire.Type, marshal func() ([]byte, error)) wire.Frame {
	body, err := marshal()
	if err != nil {
		n.logger.Error("encoding rpc answer", "type", t, "error", err)
		return n.encodeAnswer(id, &wire.Status{Code: wire.CodeInternal, Message: "encoding answer failed"})
	}
	return wire.Frame{Type: t, ID: id, Body: body}
}

func (n *Node) encodeAnswer(id uint64, m wire.Message) wire.Frame {
	f, err := wire.Encode(id, m)
	if err != nil {
		n.logger.Error("encoding rpc answer", "type", m.MessageType(), "error", err)
		f, _ = wire.Encode(id, &wire.Status{Code: wire.CodeInternal, Message: "encoding answer failed"})
	}
	return f
}

// handleReadIndex serves a follower's read-index request on the leader.
// req.Timeout bounds it as a deadline of ctx would.
func (n *Node) handleReadIndex(ctx context.Context, req *wire.ReadIndexRequest) wire.ReadIndexResponse {
	level := consistency.Level(req.Level)
	if level != consistency.Strong && level != consistency.Lease {
		return wire.ReadIndexResponse{Status: wire.Status{Code: wire.CodeBadRequest, Message: fmt.Sprintf("read index for level %d", req.Level)}}
	}
	var deadline time.Time
	if req.Timeout > 0 {
		deadline = time.Now().Add(req.Timeout)
	}
	idx, term, err := n.leaderReadIndex(ctx, level, deadline, req.Voucher)
	if err != nil {
		return wire.ReadIndexResponse{Status: n.errorStatus(err)}
	}
	resp := wire.ReadIndexResponse{Index: idx, Term: term}
	if level == consistency.Strong {
		resp.Stamp = n.currentStamp(term)
	}
	return resp
}

// handleConfirm answers a leader's confirmation round: this node's term,
// the leader it knows, and how long it will go on refusing votes to other
// candidates. hashicorp/raft rejects a RequestVote (other than for a
// leadership transfer) while it knows a leader, and forgets the leader only
// once HeartbeatTimeout has passed since its last contact; so the promise
// is lastContact + HeartbeatTimeout - now. The values are read in the order
// contact, leader, term: a vote for a newer term raises the term before it
// is granted, so a term read last that still equals the leader's proves no
// such vote had been granted when the leader was read. No promise is made
// while the vote fence checks or raft handles a transfer message (a
// TimeoutNow, a vote request with raft's transfer flag): raft may act on
// it against the promise (see voteFence). That is read last: a fence that
// starts a check afterwards reads the leader after this did, and finds it
// unknown only once the promise has run out. The first promise to a
// leader in a term is recorded durably before it is made (promise.go),
// so that a restart keeps it.
func (n *Node) handleConfirm(req *wire.ConfirmRequest) wire.ConfirmResponse {
	lastContact := n.raft.LastContact()
	leaderAddr, leaderID := n.raft.LeaderWithID()
	term := n.raft.CurrentTerm()
	promising := n.net.fence.promising()
	resp := wire.ConfirmResponse{Term: term, LeaderID: string(leaderID)}
	if promising && string(leaderID) == req.LeaderID && term == req.Term && !lastContact.IsZero() {
		if free := n.lead.heartbeatTimeout - time.Since(lastContact); free > 0 && n.recordPromise(string(leaderID), string(leaderAddr), term) {
			resp.RefusesCandidatesFor = free
		}
	}
	return resp
}
