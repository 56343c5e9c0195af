package rpc

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkCall measures the round trip of a 64-byte echo over loopback
// TCP through a Mux, with 1 and 64 calls in flight.
func BenchmarkCall(b *testing.B) {
	for _, concurrency := range []int{1, 64} {
		b.Run(fmt.Sprintf("concurrency=%d", concurrency), func(b *testing.B) {
			ts := startBenchServer(b)
			c := NewClient(ClientOptions{})
			defer c.Close()
			req := frame(string(make([]byte, 64)))
			if _, err := c.Call(context.Background(), ts, req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			var next atomic.Int64
			var wg sync.WaitGroup
			for range concurrency {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, err := c.Call(context.Background(), ts, req); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}
