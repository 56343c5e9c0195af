package mux

import "sync/atomic"

// RejectReason is why the Mux closed an incoming connection before handing
// it to a sub-listener.
type RejectReason int

// The reasons Rejected counts.
const (
	// RejectPendingFull: MaxPending or MaxPendingPerHost was reached and
	// every pending connection had finished its handshake.
	RejectPendingFull RejectReason = iota
	// RejectEvicted: a pending connection closed to make room for a newer
	// one (see Options.MaxPending).
	RejectEvicted
	// RejectPlaintext: a plain TCP dialer reached a TLS Mux.
	RejectPlaintext
	// RejectTLSPeer: a TLS dialer reached a plain Mux.
	RejectTLSPeer
	// RejectHandshake: the TLS handshake failed (no or a bad client
	// certificate, say).
	RejectHandshake
	// RejectUnknownKind: the kind byte names no sub-listener.
	RejectUnknownKind
	// RejectNotAdmitted: Options.Admit refused the connection.
	RejectNotAdmitted
	// RejectSilent: the dialer sent nothing within HandshakeTimeout, hung
	// up, or failed in its handshake in another way.
	RejectSilent
	// RejectNotAccepted: no Accept took the connection within
	// HandshakeTimeout, or its sub-listener was closed.
	RejectNotAccepted
	// NumRejectReasons is the number of reasons above.
	NumRejectReasons
)

var rejectNames = [NumRejectReasons]string{
	"pending_full", "evicted", "plaintext", "tls_peer", "tls_handshake",
	"unknown_kind", "not_admitted", "silent", "not_accepted",
}

// String returns the reason as a label value ("tls_handshake").
func (r RejectReason) String() string {
	if r >= 0 && r < NumRejectReasons {
		return rejectNames[r]
	}
	return "unknown"
}

// rejectCounts counts closed connections by reason.
type rejectCounts [NumRejectReasons]atomic.Uint64

// reject counts one connection closed for r, unless the Mux is closing
// (connections closed by Close are not refusals).
func (m *Mux) reject(r RejectReason) {
	if m.isClosed() {
		return
	}
	m.rejects[r].Add(1)
}

// Rejected returns how many incoming connections the Mux closed before
// handing them over, by reason (indexed by RejectReason), since New. It
// never blocks.
func (m *Mux) Rejected() [NumRejectReasons]uint64 {
	var out [NumRejectReasons]uint64
	for i := range out {
		out[i] = m.rejects[i].Load()
	}
	return out
}
