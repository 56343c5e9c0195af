// Package mux lets one TCP listening address carry several protocols — in
// raftkit, hashicorp/raft's NetworkTransport streams and the node's own RPC —
// told apart by the first byte the dialer sends.
//
// # Protocol
//
// A dialer opens a TCP connection, performs the TLS handshake when TLS is
// configured (the whole connection is then inside TLS), and writes one kind
// byte ([KindRaft], [KindRPC]). The listening side answers with the same
// byte once a sub-listener has accepted the connection; only then does
// [Dialer.Dial] return it, and from then on the connection belongs to the
// protocol of that kind.
//
// The answering byte is what makes a successful Dial mean "a server of this
// kind has taken the connection". Without it a refused client certificate
// (TLS 1.3 reports it to the client only on its first read), a conn that
// arrives while the server shuts down, or one that no sub-listener accepts
// in time would look like a working connection until the first response
// failed to arrive, and the caller could not tell a request that was never
// delivered from one whose answer was lost.
//
// # Listening
//
// [New] wraps a net.Listener and runs one accept goroutine. Each connection
// gets a goroutine for its handshake phase (TLS handshake, kind byte, wait
// for a sub-listener's Accept), bounded in time by
// [Options.HandshakeTimeout] and in number by [Options.MaxPending]; a
// connection that fails any step is closed and logged, never handed over.
// [Mux.Listener] returns the net.Listener for one kind; its Accept hands out
// the connection (a *tls.Conn when TLS is on) with the kind byte consumed
// and nothing else read. [NewStreamLayer] adapts a sub-listener and a
// [Dialer] to raft.StreamLayer, so that raft.NewNetworkTransportWithConfig
// runs over the mux.
//
// A refused connection is told why before it is closed: instead of the
// kind byte the Mux answers '!', a length byte and the reason, and the
// dialer's Dial returns a [*RefusedError]. That is how a plain TCP dialer
// to a TLS Mux, or one that [Options.Admit] turns down, learns its fate
// at once instead of waiting for a timeout.
//
// # Mutual TLS
//
// One *tls.Config serves for both the listening and the dialing side. A
// Mux always requires a client certificate that verifies against the
// config's ClientCAs, or its RootCAs when ClientCAs is nil, whatever its
// ClientAuth says ([ServerConfig]); a config with neither pool verifies
// nothing and is refused. [Identity] returns what Options.Admit derived
// from the verified chain, carried with the connection so that its owner
// checks it without re-parsing certificates.
package mux
