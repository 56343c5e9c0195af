package wire

import (
	"errors"
	"reflect"
	"testing"
)

// prefilled returns a message of type typ holding non-zero values, so that
// a test can check a failed decode left it unchanged.
func prefilled(typ Type) Message {
	for _, s := range fullSamples() {
		if s.typ == typ {
			m := NewMessage(typ)
			data, _ := s.msg.MarshalBinary()
			if err := m.UnmarshalBinary(data); err != nil {
				panic(err)
			}
			return m
		}
	}
	return NewMessage(typ)
}

// checkRejected asserts that decoding data as typ fails with ErrMalformed
// and leaves the destination unchanged.
func checkRejected(t *testing.T, typ Type, data []byte) {
	t.Helper()
	m := prefilled(typ)
	before := prefilled(typ)
	err := m.UnmarshalBinary(data)
	if err == nil {
		t.Fatalf("%v accepted %x", typ, data)
	}
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("%v: error %v does not wrap ErrMalformed", typ, err)
	}
	if !reflect.DeepEqual(m, before) {
		t.Fatalf("%v: failed decode changed the message to %+v", typ, m)
	}
}

func TestEveryTruncationIsRejected(t *testing.T) {
	for _, s := range fullSamples() {
		t.Run(s.name, func(t *testing.T) {
			data, err := s.msg.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			for n := 0; n < len(data); n++ {
				checkRejected(t, s.typ, data[:n])
			}
		})
	}
}

func TestTrailingBytesAreRejected(t *testing.T) {
	for _, s := range append(fullSamples(), zeroSamples()...) {
		t.Run(s.name, func(t *testing.T) {
			data, _ := s.msg.MarshalBinary()
			checkRejected(t, s.typ, append(data, 0))
		})
	}
}

func TestMalformedInput(t *testing.T) {
	tests := []struct {
		name string
		typ  Type
		data []byte
	}{
		{"bool other than 0 or 1", TypeJoinRequest, []byte{0, 0, 2, 0}},
		{"unknown status code", TypeError, []byte{200, 0, 0, 0}},
		{"unknown status code in response", TypeRemoveResponse, []byte{255, 0, 0, 0, 0}},
		{"unknown result kind", TypeApplyResponse, []byte{0, 0, 0, 0, 0, 4, 0}},
		{"nil result with bytes", TypeApplyResponse, []byte{0, 0, 0, 0, 0, byte(ResultNil), 1, 'x'}},
		{"varint not in shortest form", TypeReadIndexResponse, []byte{0, 0, 0, 0, 0x80, 0x00, 1}},
		{"varint overflows 64 bits", TypeConfirmRequest, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0}},
		{"length runs past the end", TypeApplyRequest, []byte{5, 'a', 'b', 0}},
		{"huge length", TypeApplyRequest, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0}},
		{"status request with a body", TypeStatusRequest, []byte{0}},
		{"empty input", TypeConfirmResponse, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkRejected(t, tt.typ, tt.data) })
	}
}

func TestMarshalRejectsUnrepresentableValues(t *testing.T) {
	tests := []struct {
		name string
		msg  Message
	}{
		{"unknown code", &Status{Code: 200}},
		{"unknown code in response", &StatusResponse{Status: Status{Code: Code(255)}}},
		{"unknown result kind", &ApplyResponse{ResultKind: 4}},
		{"nil result with bytes", &ApplyResponse{ResultKind: ResultNil, Result: []byte("x")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := tt.msg.MarshalBinary()
			if !errors.Is(err, ErrMalformed) || data != nil {
				t.Fatalf("MarshalBinary = %x, %v; want nil and ErrMalformed", data, err)
			}
			if _, err := Encode(1, tt.msg); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Encode error = %v, want ErrMalformed", err)
			}
		})
	}
}

// TestServerStatsRequestServerCountBounded: a count past MaxHealthServers,
// or past what the remaining bytes could hold, is refused before anything
// is allocated for it, and encoding more than MaxHealthServers fails.
func TestServerStatsRequestServerCountBounded(t *testing.T) {
	head := func(count uint64) []byte {
		e := encoder{}
		e.string("n1")
		e.bool(true)
		e.bool(true)
		e.uvarint(1)
		e.uvarint(3)
		e.duration(0)
		e.uvarint(count)
		return e.buf
	}
	checkRejected(t, TypeServerStatsRequest, head(MaxHealthServers+1))
	checkRejected(t, TypeServerStatsRequest, head(1<<40))
	checkRejected(t, TypeServerStatsRequest, append(head(5), 0, 0, 0))
	if _, err := (ServerStatsRequest{Servers: make([]ServerHealth, MaxHealthServers+1)}).MarshalBinary(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("encoding %d servers: %v", MaxHealthServers+1, err)
	}
}
