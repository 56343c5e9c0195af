package mux

import (
	"context"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// streamLayer is a raft.StreamLayer over a Mux sub-listener and a Dialer.
type streamLayer struct {
	net.Listener
	advertise net.Addr
	dialer    Dialer
}

// NewStreamLayer adapts l (normally m.Listener(KindRaft)) and d to
// raft.StreamLayer, so that raft.NewNetworkTransportWithConfig runs over the
// Mux. Addr reports advertise when it is non-nil, else l.Addr(). Dial opens
// KindRaft connections bounded by raft's timeout as well as d.Timeout.
// Closing the stream layer (raft's transport does so on Close) closes l.
func NewStreamLayer(l net.Listener, advertise net.Addr, d Dialer) raft.StreamLayer {
	return &streamLayer{Listener: l, advertise: advertise, dialer: d}
}

// Dial implements raft.StreamLayer.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return s.dialer.Dial(ctx, string(address), KindRaft)
}

// Addr implements net.Listener, preferring the advertised address.
func (s *streamLayer) Addr() net.Addr {
	if s.advertise != nil {
		return s.advertise
	}
	return s.Listener.Addr()
}
