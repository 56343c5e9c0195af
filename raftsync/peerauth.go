package raftsync

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/mux"
	"github.com/raftkit/raftkit/internal/wire"
)

// RequestKind names what a peer asks of a node, for Config.Authorize.
type RequestKind int

const (
	// RequestRaft is a raft connection: log replication and heartbeats,
	// votes, snapshots, and TimeoutNow, which a leadership transfer sends.
	// It is decided once per connection, when the connection is accepted,
	// and again when the membership changes.
	RequestRaft RequestKind = iota + 1
	// RequestJoin asks to add PeerRequest.NodeID to the cluster.
	RequestJoin
	// RequestRemove asks to remove a member, or is a leader's notice to
	// this node that it removed it (the node then reports Removed).
	RequestRemove
	// RequestApply is a forwarded Apply.
	RequestApply
	// RequestRead asks for a read index or a leadership confirmation.
	RequestRead
	// RequestStatus asks for the node's status, or, from the leader's
	// autopilot, for its stats.
	RequestStatus
)

var requestKindNames = [...]string{
	RequestRaft:   "raft",
	RequestJoin:   "join",
	RequestRemove: "remove",
	RequestApply:  "apply",
	RequestRead:   "read",
	RequestStatus: "status",
}

// String returns the kind's name ("join").
func (k RequestKind) String() string {
	if k > 0 && int(k) < len(requestKindNames) {
		return requestKindNames[k]
	}
	return fmt.Sprintf("RequestKind(%d)", int(k))
}

// PeerRequest is what Config.Authorize decides on: one request (or, for
// RequestRaft, one connection) from a peer.
type PeerRequest struct {
	Kind RequestKind
	// NodeID is the node ID the request asks to act as: for RequestJoin,
	// the ID asking to join. Empty for the other kinds.
	NodeID string
	// Chains are the peer's verified certificate chains, leaf first; nil
	// when the node runs without TLS.
	Chains [][]*x509.Certificate
	// NamedIDs are the node IDs the peer's leaf certificate names (see
	// CertificateNodeIDs), for this node's cluster.
	NamedIDs []string
	// Member reports whether one of NamedIDs is a member (voter or not) in
	// this node's latest configuration. For RequestRaft on a node that has
	// no configuration yet — a joiner waiting for its first replication —
	// every verified peer counts as a member.
	Member bool
}

// DefaultAuthorize is the rule a node applies when Config.Authorize is
// nil. Without TLS everything is allowed: on a plaintext network every
// peer is a member. With TLS, a Join is allowed when the peer's
// certificate names the ID it asks to join as, and every other request
// when the certificate names a current member. An application that
// replaces the rule can fall back on this one. The error wraps
// ErrPermissionDenied.
func DefaultAuthorize(r PeerRequest) error {
	if r.Chains == nil {
		return nil
	}
	if r.Kind == RequestJoin {
		for _, id := range r.NamedIDs {
			if id == r.NodeID {
				return nil
			}
		}
		return fmt.Errorf("%w: %s as %q: the certificate names %s", ErrPermissionDenied, r.Kind, r.NodeID, namedIDs(r.NamedIDs))
	}
	if r.Member {
		return nil
	}
	return fmt.Errorf("%w: %s: the certificate names %s, no current member", ErrPermissionDenied, r.Kind, namedIDs(r.NamedIDs))
}

func namedIDs(ids []string) string {
	if len(ids) == 0 {
		return "no node ID"
	}
	return "[" + strings.Join(ids, " ") + "]"
}

// URIScheme is the scheme of the URI SAN that names a node in a cluster:
// raftkit://<cluster-id>/<node-id>, the node ID path-escaped.
const URIScheme = "raftkit"

// NodeURI returns the URI SAN that names nodeID in clusterID, for
// certificates.
func NodeURI(clusterID, nodeID string) *url.URL {
	return &url.URL{Scheme: URIScheme, Host: clusterID, Path: "/" + nodeID}
}

// CertificateNodeIDs returns the node IDs that cert names for the cluster
// clusterID: each DNS SAN, and the node of each raftkit://<cluster>/<node>
// URI SAN whose cluster is clusterID (none when clusterID is empty). The
// common name does not count.
func CertificateNodeIDs(cert *x509.Certificate, clusterID string) []string {
	ids := append([]string(nil), cert.DNSNames...)
	for _, u := range cert.URIs {
		if c, id, ok := nodeURI(u); ok && clusterID != "" && c == clusterID {
			ids = append(ids, id)
		}
	}
	return ids
}

// nodeURI parses a raftkit URI SAN.
func nodeURI(u *url.URL) (cluster, node string, ok bool) {
	if u.Scheme != URIScheme || u.Host == "" || len(u.Path) < 2 || u.Path[0] != '/' || u.User != nil {
		return "", "", false
	}
	return u.Host, u.Path[1:], true
}

// peerIdentity is what a peer's verified certificate says, worked out once
// per connection and carried with it (mux.Identity, then the handlers'
// context), so that a request is checked without parsing or allocating.
type peerIdentity struct {
	chains [][]*x509.Certificate // nil without TLS
	dns    []string
	uris   []clusterNode
}

type clusterNode struct{ cluster, node string }

func newPeerIdentity(st *tls.ConnectionState) *peerIdentity {
	p := &peerIdentity{}
	if st == nil || len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
		return p
	}
	p.chains = st.VerifiedChains
	leaf := st.VerifiedChains[0][0]
	p.dns = leaf.DNSNames
	for _, u := range leaf.URIs {
		if c, id, ok := nodeURI(u); ok {
			p.uris = append(p.uris, clusterNode{c, id})
		}
	}
	return p
}

// names reports whether the certificate names id in cluster.
func (p *peerIdentity) names(id, cluster string) bool {
	for _, d := range p.dns {
		if d == id {
			return true
		}
	}
	for _, u := range p.uris {
		if cluster != "" && u.cluster == cluster && u.node == id {
			return true
		}
	}
	return false
}

// namesMemberOf reports whether the certificate names a member of set.
func (p *peerIdentity) namesMemberOf(set map[string]struct{}, cluster string) bool {
	for _, d := range p.dns {
		if _, ok := set[d]; ok {
			return true
		}
	}
	for _, u := range p.uris {
		if cluster != "" && u.cluster == cluster {
			if _, ok := set[u.node]; ok {
				return true
			}
		}
	}
	return false
}

// namedIDs lists the IDs the certificate names in cluster.
func (p *peerIdentity) namedIDs(cluster string) []string {
	ids := append([]string(nil), p.dns...)
	for _, u := range p.uris {
		if cluster != "" && u.cluster == cluster {
			ids = append(ids, u.node)
		}
	}
	return ids
}

// foreignCluster returns a cluster other than cluster that a raftkit URI
// SAN of the certificate names, or "".
func (p *peerIdentity) foreignCluster(cluster string) string {
	for _, u := range p.uris {
		if u.cluster != cluster {
			return u.cluster
		}
	}
	return ""
}

// peerKey carries a connection's *peerIdentity in its handlers' context.
type peerKey struct{}

// connContext hands an RPC connection's identity to its handlers.
func (n *Node) connContext(ctx context.Context, conn net.Conn) context.Context {
	p, _ := mux.Identity(conn).(*peerIdentity)
	if p == nil {
		p = &peerIdentity{}
	}
	return context.WithValue(ctx, peerKey{}, p)
}

// admitConn is the mux's Admit: it works out the peer's identity and
// decides raft connections, which carry no per-request check.
func (n *Node) admitConn(kind byte, remote net.Addr, st *tls.ConnectionState) (any, error) {
	p := newPeerIdentity(st)
	if kind != mux.KindRaft {
		return p, nil
	}
	if !n.life.started.Load() {
		if n.cfg.TLS == nil && n.cfg.Authorize == nil {
			return p, nil
		}
		return nil, errors.New("node starting; retry")
	}
	servers, err := n.latestServers()
	if err != nil {
		return nil, errors.New("node cannot read its configuration; retry")
	}
	set := memberSet(servers)
	member := len(servers) == 0 || p.namesMemberOf(set, n.ClusterID())
	if err := n.decide(RequestRaft, "", p, member); err != nil {
		return nil, err
	}
	return p, nil
}

// authorizeRPC checks a request of type t against the identity of the
// connection it came on. It returns the refusal, or nil. Join is checked
// by authorizeJoin, once its ID is decoded.
func (n *Node) authorizeRPC(ctx context.Context, t wire.Type) *wire.Status {
	var kind RequestKind
	switch t {
	case wire.TypeApplyRequest:
		kind = RequestApply
	case wire.TypeRemoveRequest, wire.TypeRemovedNotice:
		kind = RequestRemove
	case wire.TypeReadIndexRequest, wire.TypeConfirmRequest:
		kind = RequestRead
	case wire.TypeStatusRequest, wire.TypeServerStatsRequest:
		kind = RequestStatus
	default:
		return nil // Join, or a type that is refused as unsupported
	}
	p := peerFrom(ctx)
	if p.chains == nil && n.cfg.Authorize == nil {
		return nil
	}
	return n.deniedStatus(n.decide(kind, "", p, n.namesMember(p)))
}

// authorizeJoin checks a join for id: the certificate must name id, and
// a raftkit URI SAN, if any, must name this node's cluster.
func (n *Node) authorizeJoin(ctx context.Context, id string) *wire.Status {
	p := peerFrom(ctx)
	if c := p.foreignCluster(n.ClusterID()); c != "" {
		err := fmt.Errorf("%w: the joining node's certificate names cluster %q, this is %q", ErrClusterMismatch, c, n.ClusterID())
		return &wire.Status{Code: wire.CodeMismatch, Message: err.Error()}
	}
	if p.chains == nil && n.cfg.Authorize == nil {
		return nil
	}
	return n.deniedStatus(n.decide(RequestJoin, id, p, n.namesMember(p)))
}

func peerFrom(ctx context.Context) *peerIdentity {
	if p, ok := ctx.Value(peerKey{}).(*peerIdentity); ok {
		return p
	}
	return &peerIdentity{}
}

// decide applies Config.Authorize, or the default rule without building
// a PeerRequest.
func (n *Node) decide(kind RequestKind, id string, p *peerIdentity, member bool) error {
	if a := n.cfg.Authorize; a != nil {
		err := a(PeerRequest{Kind: kind, NodeID: id, Chains: p.chains, NamedIDs: p.namedIDs(n.ClusterID()), Member: member})
		if err != nil && !errors.Is(err, ErrPermissionDenied) {
			err = fmt.Errorf("%w: %w", ErrPermissionDenied, err)
		}
		return err
	}
	if p.chains == nil {
		return nil
	}
	switch {
	case kind == RequestJoin && p.names(id, n.ClusterID()):
		return nil
	case kind != RequestJoin && member:
		return nil
	}
	return DefaultAuthorize(PeerRequest{Kind: kind, NodeID: id, Chains: p.chains, NamedIDs: p.namedIDs(n.ClusterID()), Member: member})
}

// deniedWarnInterval is the least time between two warnings about refused
// requests; the ones in between go to Debug.
const deniedWarnInterval = 10 * time.Second

func (n *Node) deniedStatus(err error) *wire.Status {
	if err == nil {
		return nil
	}
	now := time.Now().UnixNano()
	if last := n.peers.lastDenyWarn.Load(); now-last >= int64(deniedWarnInterval) && n.peers.lastDenyWarn.CompareAndSwap(last, now) {
		n.logger.Warn("refused a peer's request", "error", err, "note", "further refusals are logged at debug level for 10s")
	} else {
		n.logger.Debug("refused a peer's request", "error", err)
	}
	return &wire.Status{Code: wire.CodePermissionDenied, Message: err.Error()}
}

// namesMember reports whether p's certificate names a current member. The
// cached member set answers without allocating; a miss is checked against
// raft's latest configuration, which a join may have changed since the
// cache was filled.
func (n *Node) namesMember(p *peerIdentity) bool {
	cluster := n.ClusterID()
	if set := n.peers.members.Load(); set != nil && p.namesMemberOf(*set, cluster) {
		return true
	}
	if !n.life.started.Load() {
		return false
	}
	servers, err := n.latestServers()
	if err != nil {
		return false
	}
	set := memberSet(servers)
	n.peers.members.Store(&set)
	return p.namesMemberOf(set, cluster)
}

func (n *Node) latestServers() ([]raft.Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	return f.Configuration().Servers, nil
}

// storeMembers caches the member IDs of servers for namesMember, and
// closes the raft connections whose peer is no longer allowed them (a
// removed member's), which were admitted when they were opened.
func (n *Node) storeMembers(servers []raft.Server) {
	set := memberSet(servers)
	n.peers.members.Store(&set)
	if (n.cfg.TLS == nil && n.cfg.Authorize == nil) || len(servers) == 0 || n.net.mux == nil {
		return
	}
	cluster := n.ClusterID()
	closed := n.net.mux.CloseIf(mux.KindRaft, func(identity any) bool {
		p, ok := identity.(*peerIdentity)
		return ok && n.decide(RequestRaft, "", p, p.namesMemberOf(set, cluster)) != nil
	})
	if closed > 0 {
		n.logger.Info("closed raft connections of peers that are no longer members", "count", closed)
	}
}

func memberSet(servers []raft.Server) map[string]struct{} {
	set := make(map[string]struct{}, len(servers))
	for _, s := range servers {
		set[string(s.ID)] = struct{}{}
	}
	return set
}

// plaintextExposed reports whether a node without TLS listening on addr
// can be reached from other machines: any address but loopback.
func plaintextExposed(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return !ok || !tcp.IP.IsLoopback()
}

// certificateCluster returns the cluster that a raftkit URI SAN of this
// node's own certificate names, or "".
func (n *Node) certificateCluster() string {
	if n.cfg.TLS == nil || len(n.cfg.TLS.Certificates) == 0 {
		return ""
	}
	c := n.cfg.TLS.Certificates[0]
	leaf := c.Leaf
	if leaf == nil && len(c.Certificate) > 0 {
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return ""
		}
	}
	if leaf == nil {
		return ""
	}
	for _, u := range leaf.URIs {
		if cluster, id, ok := nodeURI(u); ok && id == n.cfg.ID {
			return cluster
		}
	}
	return ""
}
