package raftsync

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
)

// ResponseCodec turns the value an application's FSM returned for a
// command into the ApplyResult.Response that Apply returns, the same way
// on every node (Config.ResponseCodec). The leader calls EncodeResponse
// once per command that some caller waits for; the node that called Apply
// calls DecodeResponse on the bytes, whether it is the leader or
// forwarded the command. Neither is called for a nil response or an
// error. An error from either, or a panic, makes Apply report
// ErrCommittedNoResponse: the command is committed, only its response is
// lost. Implementations must be safe for concurrent use.
type ResponseCodec interface {
	EncodeResponse(response any) ([]byte, error)
	DecodeResponse(data []byte) (any, error)
}

// DefaultResponseCodec is the ResponseCodec used when Config.ResponseCodec
// is nil. Apply returns a []byte response as a []byte (a copy) and a
// string as a string; a value implementing encoding.BinaryMarshaler as the
// []byte of MarshalBinary; any other value as its fmt %v string (4 becomes
// "4").
type DefaultResponseCodec struct{}

// Tags of DefaultResponseCodec's encoding: one byte, then the data.
const (
	defaultCodecBytes  = 'b'
	defaultCodecString = 's'
)

// EncodeResponse implements ResponseCodec.
func (DefaultResponseCodec) EncodeResponse(v any) ([]byte, error) {
	switch v := v.(type) {
	case []byte:
		return append([]byte{defaultCodecBytes}, v...), nil
	case string:
		return append([]byte{defaultCodecString}, v...), nil
	case encoding.BinaryMarshaler:
		b, err := v.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("MarshalBinary of the FSM response: %w", err)
		}
		return append([]byte{defaultCodecBytes}, b...), nil
	default:
		return append([]byte{defaultCodecString}, fmt.Sprint(v)...), nil
	}
}

// DecodeResponse implements ResponseCodec.
func (DefaultResponseCodec) DecodeResponse(data []byte) (any, error) {
	if len(data) == 0 {
		return nil, errors.New("empty encoded response")
	}
	switch data[0] {
	case defaultCodecBytes:
		return append([]byte{}, data[1:]...), nil
	case defaultCodecString:
		return string(data[1:]), nil
	}
	return nil, fmt.Errorf("encoded response with unknown tag %#x", data[0])
}

// codec is the node's ResponseCodec.
func (n *Node) codec() ResponseCodec {
	if n.cfg.ResponseCodec != nil {
		return n.cfg.ResponseCodec
	}
	return DefaultResponseCodec{}
}

// encodeResponse encodes an FSM response with the node's codec; a panic
// in the codec is returned as an error.
func (n *Node) encodeResponse(v any) (data []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			data, err = nil, fmt.Errorf("encoding the FSM response panicked: %v", p)
		}
	}()
	return n.codec().EncodeResponse(v)
}

// decodeResponse decodes what encodeResponse produced; a panic in the
// codec is returned as an error.
func (n *Node) decodeResponse(data []byte) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("decoding the FSM response panicked: %v", p)
		}
	}()
	return n.codec().DecodeResponse(data)
}

// applyErrorRegistry is Config.ApplyErrors: the sentinels an *ApplyError
// may unwrap to, matched on the leader with errors.Is and across the
// network by their text.
type applyErrorRegistry []error

func (n *Node) applyErrors() applyErrorRegistry { return applyErrorRegistry(n.cfg.ApplyErrors) }

// match returns the first registered sentinel err matches, or nil.
func (r applyErrorRegistry) match(err error) error {
	for _, s := range r {
		if s != nil && errors.Is(err, s) {
			return s
		}
	}
	return nil
}

// byText returns the first registered sentinel whose text is text, or nil.
func (r applyErrorRegistry) byText(text string) error {
	for _, s := range r {
		if s != nil && s.Error() == text {
			return s
		}
	}
	return nil
}

// newApplyError is the *ApplyError for the FSM error err of the command at
// index, on the node that applied it.
func (r applyErrorRegistry) newApplyError(index uint64, err error) *ApplyError {
	return &ApplyError{Index: index, Message: err.Error(), Err: r.match(err)}
}

// encode is the Result of a forwarded Apply whose FSM returned err: the
// matched sentinel's text, length-prefixed (uvarint; 0 for none), then
// err's text.
func (r applyErrorRegistry) encode(err error) []byte {
	var sentinel string
	if s := r.match(err); s != nil {
		sentinel = s.Error()
	}
	msg := err.Error()
	b := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(sentinel)+len(msg)), uint64(len(sentinel)))
	return append(append(b, sentinel...), msg...)
}

// decode is the inverse of encode, on the node that forwarded the command.
// A Result that does not parse is taken whole as the error's text. A
// sentinel text this node has not registered leaves the error unwrapping
// to nothing.
func (r applyErrorRegistry) decode(index uint64, data []byte) *ApplyError {
	n, k := binary.Uvarint(data)
	if k <= 0 || n > uint64(len(data)-k) {
		return &ApplyError{Index: index, Message: string(data)}
	}
	sentinel := string(data[k : k+int(n)])
	e := &ApplyError{Index: index, Message: string(data[k+int(n):])}
	if sentinel != "" {
		e.Err = r.byText(sentinel)
	}
	return e
}
