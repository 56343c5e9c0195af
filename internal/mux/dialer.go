package mux

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// DefaultDialTimeout bounds a Dial when Dialer.Timeout is zero.
const DefaultDialTimeout = 10 * time.Second

// ErrRefused is wrapped by Dial errors when the remote Mux refused the
// connection and said why (see RefusedError).
var ErrRefused = errors.New("mux: connection refused by the remote node")

// RefusedError is the error of a Dial that the remote Mux refused: a plain
// TCP dialer to a node that requires TLS, or a connection that the remote's
// Options.Admit turned down. It wraps ErrRefused.
type RefusedError struct {
	// Reason is the remote's explanation.
	Reason string
}

func (e *RefusedError) Error() string {
	return "mux: the remote node refused the connection: " + e.Reason
}

// Unwrap returns ErrRefused.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// Dialer opens connections to a Mux. The zero value dials plain TCP with
// DefaultDialTimeout.
type Dialer struct {
	// TLS, when non-nil, is used for a TLS handshake before the kind byte.
	// When TLS.ServerName is empty the host part of the dialed address is
	// used (an IP address then matches the certificate's IP SANs).
	TLS *tls.Config
	// Timeout bounds the whole Dial: TCP connect, TLS handshake, kind byte
	// and acknowledgement. Zero or negative means DefaultDialTimeout.
	Timeout time.Duration
	// DialContext, when set, opens the raw connection instead of a
	// net.Dialer: for custom networks, proxies, and the fault-injecting
	// network of the tests.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Dial connects to the Mux at addr for connections of the given kind and
// returns once the remote Mux has handed the connection to a listener of
// that kind (it answers the kind byte). It blocks for at most Timeout and
// until ctx ends, whichever is first; the error then wraps ctx.Err(). Any
// failure — refused connection, TLS failure on either side, a kind the
// remote does not accept in time, a remote shutting down — returns an error
// and no connection. The returned conn has no deadline set.
func (d Dialer) Dial(ctx context.Context, addr string, kind byte) (net.Conn, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dial := d.DialContext
	if dial == nil {
		var nd net.Dialer
		dial = nd.DialContext
	}
	raw, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mux: dial %s: %w", addr, err)
	}
	conn, err := d.handshake(ctx, raw, addr, kind)
	if err != nil {
		raw.Close()
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return nil, fmt.Errorf("mux: dial %s kind %q: %w", addr, kind, err)
	}
	return conn, nil
}

// aLongTimeAgo is a deadline in the past: setting it aborts blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

func (d Dialer) handshake(ctx context.Context, raw net.Conn, addr string, kind byte) (net.Conn, error) {
	// I/O is bounded by ctx alone: when it ends, a past deadline aborts
	// whatever read or write is blocked, and ctx.Err() names the cause.
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(aLongTimeAgo) })
	conn := raw
	if d.TLS != nil {
		conf := d.TLS
		if conf.ServerName == "" {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				host = addr
			}
			conf = conf.Clone()
			conf.ServerName = host
		}
		tc := tls.Client(raw, conf)
		if err := tc.HandshakeContext(ctx); err != nil {
			stop()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	}
	if _, err := conn.Write([]byte{kind}); err != nil {
		stop()
		return nil, fmt.Errorf("writing the kind byte: %w", err)
	}
	var ack [1]byte
	if _, err := io.ReadFull(conn, ack[:]); err != nil {
		stop()
		return nil, fmt.Errorf("waiting for the remote to accept the connection: %w", err)
	}
	if ack[0] == refuseByte {
		reason := readReason(conn)
		stop()
		return nil, &RefusedError{Reason: reason}
	}
	if !stop() {
		// ctx ended just now and a past deadline may be set.
		return nil, ctx.Err()
	}
	if ack[0] != kind {
		return nil, fmt.Errorf("remote answered kind %q with %q", kind, ack[0])
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return conn, nil
}

// readReason reads the length-prefixed reason of a refusal; what arrives
// of it is returned, a truncated reason included.
func readReason(conn net.Conn) string {
	var n [1]byte
	if _, err := io.ReadFull(conn, n[:]); err != nil {
		return "(no reason given)"
	}
	buf := make([]byte, n[0])
	got, _ := io.ReadFull(conn, buf)
	return strings.ToValidUTF8(string(buf[:got]), "?")
}
