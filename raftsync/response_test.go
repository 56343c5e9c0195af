package raftsync

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

type textMarshaler struct{}

func (textMarshaler) MarshalBinary() ([]byte, error) { return []byte{1, 2}, nil }

func TestDefaultResponseCodecRoundTrips(t *testing.T) {
	cases := []struct {
		in, want any
	}{
		{[]byte("b"), []byte("b")},
		{[]byte{}, []byte{}},
		{"s", "s"},
		{"", ""},
		{4, "4"},
		{struct{ A int }{1}, "{1}"},
		{textMarshaler{}, []byte{1, 2}},
	}
	var c DefaultResponseCodec
	for _, tc := range cases {
		data, err := c.EncodeResponse(tc.in)
		if err != nil {
			t.Fatalf("EncodeResponse(%#v): %v", tc.in, err)
		}
		got, err := c.DecodeResponse(data)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("round trip of %#v = %#v (%T), %v; want %#v (%T)", tc.in, got, got, err, tc.want, tc.want)
		}
	}
	// Bad input: an error, no panic.
	for _, bad := range [][]byte{nil, {}, {'x', 1}} {
		if v, err := c.DecodeResponse(bad); err == nil {
			t.Fatalf("DecodeResponse(%q) = %#v, want an error", bad, v)
		}
	}
}

func TestApplyErrorRegistryCarriesTheSentinel(t *testing.T) {
	errA, errB := errors.New("app: a"), errors.New("app: b")
	r := applyErrorRegistry{nil, errA, errB}
	cases := []struct {
		err  error
		want error
	}{
		{fmt.Errorf("key k: %w", errB), errB},
		{errA, errA},
		{errors.New("app: a"), nil}, // same text, different value: not registered on the leader
		{errors.New("other"), nil},
	}
	for _, tc := range cases {
		local := r.newApplyError(7, tc.err)
		remote := r.decode(7, r.encode(tc.err))
		for _, got := range []*ApplyError{local, remote} {
			if got.Index != 7 || got.Message != tc.err.Error() || got.Err != tc.want {
				t.Fatalf("%q: got %+v, want message %q and sentinel %v", tc.err, got, tc.err.Error(), tc.want)
			}
		}
	}
	// A registry without the sentinel leaves the error unwrapping to nothing.
	if e := (applyErrorRegistry{}).decode(7, r.encode(errA)); e.Err != nil || e.Message != "app: a" {
		t.Fatalf("unregistered sentinel: %+v", e)
	}
	// Bad input: taken whole as the message.
	for _, bad := range [][]byte{nil, {0xff}, {0x05, 'a'}} {
		if e := r.decode(7, bad); e.Message != string(bad) || e.Err != nil {
			t.Fatalf("decode(%q) = %+v", bad, e)
		}
	}
}
