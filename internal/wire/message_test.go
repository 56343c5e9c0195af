package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestMessagesRoundTrip(t *testing.T) {
	for _, s := range append(fullSamples(), zeroSamples()...) {
		t.Run(s.name, func(t *testing.T) {
			if got := s.msg.MessageType(); got != s.typ {
				t.Fatalf("MessageType = %v, want %v", got, s.typ)
			}
			data, err := s.msg.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary: %v", err)
			}
			got := NewMessage(s.typ)
			if err := got.UnmarshalBinary(data); err != nil {
				t.Fatalf("UnmarshalBinary: %v", err)
			}
			if !reflect.DeepEqual(got, s.msg) {
				t.Fatalf("round trip gave %+v, want %+v", got, s.msg)
			}
			again, err := got.MarshalBinary()
			if err != nil || !bytes.Equal(again, data) {
				t.Fatalf("re-encoding gave %x (%v), want %x", again, err, data)
			}
		})
	}
}

func TestMessagesThroughFrames(t *testing.T) {
	for i, s := range fullSamples() {
		t.Run(s.name, func(t *testing.T) {
			f, err := Encode(uint64(i)+1<<60, s.msg)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			var buf bytes.Buffer
			if err := WriteFrame(&buf, f); err != nil {
				t.Fatalf("WriteFrame: %v", err)
			}
			rf, err := ReadFrame(newReader(buf.Bytes()), 1<<20)
			if err != nil {
				t.Fatalf("ReadFrame: %v", err)
			}
			if rf.Type != s.typ || rf.ID != f.ID {
				t.Fatalf("frame type/id = %v/%d, want %v/%d", rf.Type, rf.ID, s.typ, f.ID)
			}
			got := NewMessage(s.typ)
			if err := Decode(rf, got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, s.msg) {
				t.Fatalf("got %+v, want %+v", got, s.msg)
			}
		})
	}
}

func TestUnmarshalDoesNotAliasInput(t *testing.T) {
	data, _ := ApplyRequest{Command: []byte("abc")}.MarshalBinary()
	var m ApplyRequest
	if err := m.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 0xff
	}
	if string(m.Command) != "abc" {
		t.Fatalf("Command changed with the input buffer: %q", m.Command)
	}
}

func TestNewMessageUnknownType(t *testing.T) {
	for _, typ := range []Type{0, TypeRemovedNoticeResponse + 1, 255} {
		if m := NewMessage(typ); m != nil {
			t.Errorf("NewMessage(%d) = %T, want nil", typ, m)
		}
	}
}

func TestDecode(t *testing.T) {
	errBody, _ := notLeader.MarshalBinary()
	okBody, _ := Status{}.MarshalBinary()
	applyBody, _ := ApplyResponse{Index: 5}.MarshalBinary()
	tests := []struct {
		name    string
		frame   Frame
		into    Message
		want    Message
		wantErr bool
	}{
		{"matching type", Frame{Type: TypeApplyResponse, Body: applyBody}, &ApplyResponse{}, &ApplyResponse{Index: 5}, false},
		{"error frame into response", Frame{Type: TypeError, Body: errBody}, &ApplyResponse{}, &ApplyResponse{Status: notLeader}, false},
		{"error frame into bare status", Frame{Type: TypeError, Body: errBody}, &Status{}, &notLeader, false},
		{"error frame with CodeOK", Frame{Type: TypeError, Body: okBody}, &ApplyResponse{Index: 1}, &ApplyResponse{Index: 1}, true},
		{"error frame into request", Frame{Type: TypeError, Body: errBody}, &ApplyRequest{}, &ApplyRequest{}, true},
		{"wrong type", Frame{Type: TypeJoinResponse, Body: applyBody}, &ApplyResponse{Index: 1}, &ApplyResponse{Index: 1}, true},
		{"malformed error body", Frame{Type: TypeError, Body: []byte{1}}, &ApplyResponse{Index: 1}, &ApplyResponse{Index: 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Decode(tt.frame, tt.into)
			if tt.wantErr != (err != nil) {
				t.Fatalf("Decode error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if !reflect.DeepEqual(tt.into, tt.want) {
				t.Fatalf("decoded %+v, want %+v", tt.into, tt.want)
			}
		})
	}
}

func TestEnumStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{TypeApplyRequest.String(), "ApplyRequest"},
		{TypeRemovedNoticeResponse.String(), "RemovedNoticeResponse"},
		{Type(13).String(), "Type(13)"},
		{TypeError.String(), "Error"},
		{Type(0).String(), "Type(0)"},
		{Type(200).String(), "Type(200)"},
		{CodeOK.String(), "OK"},
		{CodeNotLeader.String(), "NotLeader"},
		{CodeNoLeader.String(), "NoLeader"},
		{CodeClosed.String(), "Closed"},
		{CodeTooLarge.String(), "TooLarge"},
		{CodeBadRequest.String(), "BadRequest"},
		{CodeNotReady.String(), "NotReady"},
		{CodeTimeout.String(), "Timeout"},
		{CodeApplication.String(), "Application"},
		{CodeInternal.String(), "Internal"},
		{CodeIndeterminate.String(), "Indeterminate"},
		{CodeMismatch.String(), "Mismatch"},
		{Code(200).String(), "Code(200)"},
		{ResultNil.String(), "Nil"},
		{ResultError.String(), "Error"},
		{ResultKind(4).String(), "ResultKind(4)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("String() = %q, want %q", tt.got, tt.want)
		}
	}
	for typ := range Type(255) {
		if m := NewMessage(typ); (m == nil) == typ.Valid() {
			t.Errorf("NewMessage(%v) = %v, but Valid() = %v", typ, m, typ.Valid())
		}
	}
}

// TestRetiredTypesAreRefused: the numbers of messages removed from the
// protocol stay unassigned, so a frame carrying one is refused by every
// decoder instead of being read as some newer message.
func TestRetiredTypesAreRefused(t *testing.T) {
	for _, typ := range []Type{13, 14} {
		if typ.Valid() {
			t.Errorf("retired %v is Valid", typ)
		}
		if m := NewMessage(typ); m != nil {
			t.Errorf("NewMessage(%d) = %T, want nil", typ, m)
		}
		for _, s := range zeroSamples() {
			if s.typ == TypeError {
				continue // a response also accepts TypeError frames
			}
			err := Decode(Frame{Type: typ, ID: 1}, s.msg)
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Decode of a type-%d frame into %T = %v, want ErrMalformed", typ, s.msg, err)
			}
		}
	}
}

// TestReadRoundMessagesEncodeInOneAllocation: the messages of a read
// round size their buffer up front instead of growing it.
func TestReadRoundMessagesEncodeInOneAllocation(t *testing.T) {
	for _, s := range fullSamples() {
		switch s.typ {
		case TypeReadIndexRequest, TypeReadIndexResponse, TypeConfirmRequest, TypeConfirmResponse:
		default:
			continue
		}
		if n := testing.AllocsPerRun(50, func() { s.msg.MarshalBinary() }); n != 1 {
			t.Errorf("%s: %v allocations per MarshalBinary, want 1", s.name, n)
		}
	}
}
