package raftsync

import (
	"context"
	"testing"
)

// answeredFuture has the shape of raft's deferError futures; a responder
// goroutine answers it, as raft's FSM goroutine answers Apply futures.
type answeredFuture struct {
	ShutdownCh chan struct{}
	errCh      chan error
}

func (f *answeredFuture) Error() error {
	select {
	case err := <-f.errCh:
		return err
	case <-f.ShutdownCh:
		return context.Canceled
	}
}

// BenchmarkFutureWait measures what futureWaits.wait adds to one future
// answered by another goroutine, with 256 waiters sharing one cancellable
// ctx (as the bench's writers do) and with context.Background.
//
//	go test -run '^$' -bench FutureWait -benchmem ./raftsync
func BenchmarkFutureWait(b *testing.B) {
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"cancellable", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
		{"background", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			w := newFutureWaits()
			defer w.stop()
			ctx, cancel := tc.ctx()
			defer cancel()
			answers := make(chan *answeredFuture, 1024)
			go func() {
				for f := range answers {
					f.errCh <- nil
				}
			}()
			defer close(answers)
			b.SetParallelism(128) // 256 waiters on 2 CPUs
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					f := &answeredFuture{errCh: make(chan error, 1)}
					answers <- f
					if err := w.wait(ctx, f); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
