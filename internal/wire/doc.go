// Package wire defines the frames and messages that raftkit nodes exchange
// over their node-to-node RPC connections (see package rpc), encoded by hand
// in a compact binary form with strict decoding.
//
// # Frames
//
// Every message travels in a [Frame]:
//
//	length  uint32, big-endian: the number of bytes that follow (9 + len(body))
//	type    1 byte:   a [Type]
//	id      uint64, big-endian: the request ID, copied into the response
//	body    length-9 bytes: the message, encoded by its MarshalBinary
//
// [ReadFrame] checks the length against the caller's limit before it
// allocates anything, so a peer cannot make a reader allocate more than the
// limit by lying about a length.
//
// # Messages
//
// Each message type is a struct with MarshalBinary and UnmarshalBinary.
// Fields are encoded in declaration order:
//
//   - unsigned integers as uvarints (encoding/binary), in their shortest form;
//   - time.Duration as a zig-zag varint (binary.AppendVarint), so that a
//     negative duration survives the trip unchanged;
//   - strings and byte slices as a uvarint length followed by the bytes;
//   - bools as one byte, 0 or 1; one-byte enums ([Code], [ResultKind], the
//     read level) as that byte.
//
// Every response begins with a [Status]. A server that cannot decode a
// request answers with a [TypeError] frame whose body is a bare Status;
// [Decode] turns such a frame into the Status of whatever response the
// caller expected, so callers handle both the same way.
//
// Decoding is strict: truncated input, a length that runs past the end, a
// varint that is not in its shortest form, a bool other than 0 or 1, an enum
// value this version does not know and trailing bytes are all rejected with
// an error wrapping [ErrMalformed], and the destination is left unchanged.
// As a consequence every accepted encoding is the unique encoding of its
// message: re-encoding a decoded message reproduces the input byte for byte.
// Decoding never panics and allocates no more than the input's size.
//
// # Compatibility
//
// The numeric values of [Type], [Code] and [ResultKind] are part of the
// protocol and never change; new values are only added. A message gains
// fields only together with a new Type.
package wire
