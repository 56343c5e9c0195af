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

// BenchmarkMulticall measures one quorum-round-shaped Multicall: a 64-byte
// echo sent first to the faster of two servers, the answer awaited, the
// Multicall closed. Allocations count both ends (the servers run in this
// process).
func BenchmarkMulticall(b *testing.B) {
	addrs := []string{startBenchServer(b), startBenchServer(b)}
	c := NewClient(ClientOptions{})
	defer c.Close()
	req := frame(string(make([]byte, 64)))
	round := func() {
		m := c.Multicall(context.Background(), addrs, req, MulticallOptions{First: 1})
		if r, ok := m.Next(); !ok || r.Err != nil {
			b.Fatalf("Next = %+v, %v", r, ok)
		}
		m.Close()
	}
	round() // dial
	b.ReportAllocs()
	for b.Loop() {
		round()
	}
}
