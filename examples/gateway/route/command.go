package route

import (
	"encoding/json"
	"fmt"
)

// Op names what a Command does.
type Op string

// The operations the state machine applies.
const (
	// OpPutRoute creates the route ID or replaces it.
	OpPutRoute Op = "put_route"
	// OpCreateRoute creates the route ID; it is rejected with
	// CodeConflict when ID exists.
	OpCreateRoute Op = "create_route"
	// OpDeleteRoute deletes the route ID; CodeNotFound when absent.
	OpDeleteRoute Op = "delete_route"
	// OpPutGroup creates or replaces the upstream group ID.
	OpPutGroup Op = "put_group"
	// OpDeleteGroup deletes the group ID; CodeNotFound when absent,
	// CodeConflict while a route uses it.
	OpDeleteGroup Op = "delete_group"
)

// CommandVersion is the version of the command encoding. A state machine
// refuses commands of other versions rather than guess at them.
const CommandVersion = 1

// Command is one change to the configuration, as replicated through the
// raft log. Route is set for route puts and creates, Group for group puts.
type Command struct {
	V     int    `json:"v"`
	Op    Op     `json:"op"`
	ID    string `json:"id"`
	Route *Route `json:"route,omitempty"`
	Group *Group `json:"group,omitempty"`
}

// Encode returns the command's log entry bytes.
func (c Command) Encode() []byte {
	c.V = CommandVersion
	b, err := json.Marshal(c)
	if err != nil {
		// Every field is a plain string, number, bool, slice or map of
		// strings: Marshal cannot fail on it.
		panic(fmt.Sprintf("route: encoding command: %v", err))
	}
	return b
}

// DecodeCommand parses and validates a log entry written by Encode. A
// command that does not parse, has another version, or carries an invalid
// route or group returns a *ValidationError.
func DecodeCommand(b []byte) (Command, error) {
	var c Command
	if err := json.Unmarshal(b, &c); err != nil {
		return Command{}, invalid("", "undecodable command: %v", err)
	}
	if c.V != CommandVersion {
		return Command{}, invalid("v", "command version %d, this gateway reads %d", c.V, CommandVersion)
	}
	if err := ValidateID(c.ID); err != nil {
		return Command{}, err
	}
	switch c.Op {
	case OpPutRoute, OpCreateRoute:
		if c.Route == nil || c.Group != nil {
			return Command{}, invalid("route", "%s needs a route and no group", c.Op)
		}
		c.Route.Normalize()
		if err := c.Route.Validate(); err != nil {
			return Command{}, err
		}
	case OpPutGroup:
		if c.Group == nil || c.Route != nil {
			return Command{}, invalid("group", "%s needs a group and no route", c.Op)
		}
		if err := c.Group.Validate(); err != nil {
			return Command{}, err
		}
	case OpDeleteRoute, OpDeleteGroup:
		if c.Route != nil || c.Group != nil {
			return Command{}, invalid("op", "%s carries no route or group", c.Op)
		}
	default:
		return Command{}, invalid("op", "unknown operation %q", c.Op)
	}
	return c, nil
}

// Code classifies why the state machine refused a valid command.
type Code string

// Rejection codes.
const (
	CodeConflict Code = "conflict"  // the ID exists, a group is in use, or host+prefix is taken
	CodeNotFound Code = "not_found" // the route or group does not exist
	CodeInvalid  Code = "invalid"   // the command is malformed, or names a group that does not exist
)

// Rejection is what the state machine answers when it refuses a command:
// the command is in the log but changed nothing. It crosses the network
// intact (as the []byte of Encode) when a follower forwarded the write, so
// the admin API can map it to an HTTP status without parsing error text.
type Rejection struct {
	Code   Code   `json:"code"`
	Reason string `json:"reason"`
}

// Error returns the reason.
func (r *Rejection) Error() string { return string(r.Code) + ": " + r.Reason }

// Encode returns the rejection as the bytes an FSM returns from Apply.
func (r *Rejection) Encode() []byte {
	b, _ := json.Marshal(r) // two strings: cannot fail
	return b
}

// DecodeRejection parses what Encode wrote.
func DecodeRejection(b []byte) (*Rejection, error) {
	var r Rejection
	if err := json.Unmarshal(b, &r); err != nil || r.Code == "" {
		return nil, fmt.Errorf("route: not a rejection: %q", b)
	}
	return &r, nil
}
