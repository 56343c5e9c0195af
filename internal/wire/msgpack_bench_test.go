package wire

import (
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// Plain copies of the read-round messages for msgpack: the messages
// themselves implement encoding.BinaryMarshaler, which msgpack would call
// instead of encoding their fields.
type (
	mpStatus struct {
		Code                          Code
		Message, LeaderID, LeaderAddr string
	}
	mpReadIndexRequest struct {
		Level   uint8
		Timeout time.Duration
	}
	mpReadIndexResponse struct {
		Status      mpStatus
		Index, Term uint64
	}
	mpConfirmRequest struct {
		Term     uint64
		LeaderID string
	}
	mpConfirmResponse struct {
		Status               mpStatus
		Term                 uint64
		LeaderID             string
		RefusesCandidatesFor time.Duration
	}
)

// BenchmarkCodec weighs this package's codec against
// github.com/hashicorp/go-msgpack/v2 (the codec hashicorp/raft already
// links, with the MsgpackHandle raft's NetworkTransport uses) on the
// messages of a read round. Both encode into a fresh slice, as a frame body
// needs; msgpack reuses one Encoder and one Decoder throughout (its best
// case). msgpack's decoding is not strict: it accepts trailing bytes and
// non-canonical integers, which this package refuses.
//
//	go test -run '^$' -bench Codec -benchmem ./internal/wire
func BenchmarkCodec(b *testing.B) {
	msgs := []struct {
		name   string
		msg    Message
		zero   func() Message
		mp     any
		mpZero func() any
	}{
		{"ReadIndexRequest", &ReadIndexRequest{Level: 1, Timeout: 5 * time.Second}, func() Message { return new(ReadIndexRequest) },
			&mpReadIndexRequest{Level: 1, Timeout: 5 * time.Second}, func() any { return new(mpReadIndexRequest) }},
		{"ReadIndexResponse", &ReadIndexResponse{Index: 1 << 20, Term: 7}, func() Message { return new(ReadIndexResponse) },
			&mpReadIndexResponse{Index: 1 << 20, Term: 7}, func() any { return new(mpReadIndexResponse) }},
		{"ConfirmRequest", &ConfirmRequest{Term: 7, LeaderID: "node-1"}, func() Message { return new(ConfirmRequest) },
			&mpConfirmRequest{Term: 7, LeaderID: "node-1"}, func() any { return new(mpConfirmRequest) }},
		{"ConfirmResponse", &ConfirmResponse{Term: 7, LeaderID: "node-1", RefusesCandidatesFor: 900 * time.Millisecond}, func() Message { return new(ConfirmResponse) },
			&mpConfirmResponse{Term: 7, LeaderID: "node-1", RefusesCandidatesFor: 900 * time.Millisecond}, func() any { return new(mpConfirmResponse) }},
	}
	h := &codec.MsgpackHandle{}
	for _, m := range msgs {
		hand, err := m.msg.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		var packed []byte
		enc := codec.NewEncoderBytes(&packed, h)
		if err := enc.Encode(m.mp); err != nil {
			b.Fatal(err)
		}
		dec := codec.NewDecoderBytes(packed, h)
		if into := m.mpZero(); dec.Decode(into) != nil || !reflect.DeepEqual(into, m.mp) {
			b.Fatalf("%s: msgpack round trip failed", m.name)
		}

		b.Run(m.name+"/hand/encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.msg.MarshalBinary(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(hand)), "bytes/msg")
		})
		b.Run(m.name+"/msgpack/encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var out []byte
				enc.ResetBytes(&out)
				if err := enc.Encode(m.mp); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(packed)), "bytes/msg")
		})
		b.Run(m.name+"/hand/decode", func(b *testing.B) {
			b.ReportAllocs()
			into := m.zero()
			for b.Loop() {
				if err := into.UnmarshalBinary(hand); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(m.name+"/msgpack/decode", func(b *testing.B) {
			b.ReportAllocs()
			into := m.mpZero()
			for b.Loop() {
				dec.ResetBytes(packed)
				if err := dec.Decode(into); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
