package wire

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkApplyRequest(b *testing.B) {
	for _, size := range []int{64, 4 << 10, 256 << 10} {
		req := ApplyRequest{Command: make([]byte, size), Timeout: 5 * time.Second}
		data, _ := req.MarshalBinary()
		b.Run(fmt.Sprintf("Marshal/%dB", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := req.MarshalBinary(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Unmarshal/%dB", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			var out ApplyRequest
			for b.Loop() {
				if err := out.UnmarshalBinary(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
