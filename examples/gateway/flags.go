package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// options are the node's command-line settings.
type options struct {
	id, dir                     string
	raftAddr, raftAdvertise     string
	adminAddr, proxyAddr        string
	bootstrap, nonVoter         bool
	join                        []string
	clusterID                   string
	tlsCert, tlsKey, tlsCA      string
	adminTLS                    bool
	adminClientCA               string
	adminTokenFile              string
	adminInsecure               bool
	allowPrivateUpstreams       bool
	allowLoopbackUpstreams      bool
	logLevel                    hclog.Level
	raftTimeout                 time.Duration
	snapshotThreshold           uint64
	snapshotInterval            time.Duration
	recoveredGrace              time.Duration
	readFence                   bool
	requestTimeout, joinTimeout time.Duration
	shutdownTimeout             time.Duration
	autopilot                   bool
	autopilotStabilization      time.Duration
}

// errUsage marks a command line that cannot be used; main prints the usage.
var errUsage = errors.New("usage")

// parseFlags reads the node's command line. It writes flag's own messages
// and the usage to out, and returns an error wrapping errUsage for a bad
// command line (flag.ErrHelp for -h).
func parseFlags(args []string, out io.Writer) (options, error) {
	var o options
	var join, level string
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "usage: gateway -id ID -dir DIR -raft-addr HOST:PORT -admin-addr HOST:PORT -proxy-addr HOST:PORT [-bootstrap | -join ADDR[,ADDR]]\n")
		fmt.Fprintf(out, "               (-admin-token-file FILE | -admin-tls -admin-client-ca CA | -admin-insecure) [flags]\n")
		fmt.Fprintf(out, "       gateway echo -addr HOST:PORT -name NAME\n       gateway gencert -dir DIR [-ids node1,node2,node3] [-hosts 127.0.0.1,localhost]\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.id, "id", "", "node ID, stable across restarts (required)")
	fs.StringVar(&o.dir, "dir", "", "data directory: raft log, snapshots, applied-index record (required)")
	fs.StringVar(&o.raftAddr, "raft-addr", "", "address for raft and node-to-node RPC, host:port (required)")
	fs.StringVar(&o.raftAdvertise, "raft-advertise", "", "address other nodes use to reach -raft-addr (default: -raft-addr)")
	fs.StringVar(&o.adminAddr, "admin-addr", "", "address of the admin API, host:port (required)")
	fs.StringVar(&o.proxyAddr, "proxy-addr", "", "address of the proxy (data plane), host:port (required)")
	fs.BoolVar(&o.bootstrap, "bootstrap", false, "start a new cluster with this node as its first member (ignored once -dir holds state)")
	fs.StringVar(&join, "join", "", "comma-separated raft addresses of existing members to join through (ignored once -dir holds state)")
	fs.BoolVar(&o.nonVoter, "nonvoter", false, "join as a non-voting read replica")
	fs.StringVar(&o.clusterID, "cluster-id", "", "pin the cluster identity (default: generated at bootstrap, learned at join)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate for node-to-node mutual TLS (with -tls-key and -tls-ca)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key of -tls-cert")
	fs.StringVar(&o.tlsCA, "tls-ca", "", "PEM CA certificate that signs every member's certificate")
	fs.BoolVar(&o.adminTLS, "admin-tls", false, "serve the admin API over HTTPS with -tls-cert")
	fs.StringVar(&o.adminClientCA, "admin-client-ca", "", "with -admin-tls: PEM CA; every admin client must present a certificate it signed (mutual TLS)")
	fs.StringVar(&o.adminTokenFile, "admin-token-file", "", "file of admin API bearer tokens: one per line, optionally followed by 'read' or 'write' (default); '#' comments; not accessible by other users")
	fs.BoolVar(&o.adminInsecure, "admin-insecure", false, "serve the admin API without authentication (development only: -admin-addr must be a loopback address)")
	fs.BoolVar(&o.allowPrivateUpstreams, "allow-private-upstreams", false, "let routes point at private addresses (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7), for on-premises upstreams")
	fs.BoolVar(&o.allowLoopbackUpstreams, "allow-loopback-upstreams", false, "let routes point at loopback addresses (127/8, ::1), for demos and tests on one machine; the node's own ports stay refused")
	fs.StringVar(&level, "log-level", "info", "log level: trace, debug, info, warn, error or off")
	fs.DurationVar(&o.raftTimeout, "raft-timeout", time.Second, "raft heartbeat and election timeout; failover takes a few of these")
	fs.Uint64Var(&o.snapshotThreshold, "snapshot-threshold", 0, "log entries between snapshots (0: raftkit's default, 1024)")
	fs.DurationVar(&o.snapshotInterval, "snapshot-interval", 0, "how often to check -snapshot-threshold (0: raftkit's default, 30s)")
	fs.DurationVar(&o.recoveredGrace, "recovered-grace", 0, "serve the proxy from the recovered local state after this long without a quorum (0: wait for ready)")
	fs.BoolVar(&o.readFence, "read-fence", true, "stale reads never return older state than this node served before, even across crashes")
	fs.DurationVar(&o.requestTimeout, "request-timeout", 10*time.Second, "default bound on an admin request's wait for raft")
	fs.DurationVar(&o.joinTimeout, "join-timeout", time.Minute, "how long a first start keeps trying -join targets")
	fs.BoolVar(&o.autopilot, "autopilot", true, "a joining voter votes only once stable, and the leader removes members dead for 24h (raftkit's autopilot); false when membership is managed by hand")
	fs.DurationVar(&o.autopilotStabilization, "autopilot-stabilization", 0, "how long a joining voter must stay healthy before it is promoted (0: raftkit's default, 10s)")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long shutdown waits for in-flight requests")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if join != "" {
		for _, j := range strings.Split(join, ",") {
			o.join = append(o.join, strings.TrimSpace(j))
		}
	}
	o.logLevel = hclog.LevelFromString(level)
	if o.logLevel == hclog.NoLevel {
		return o, fmt.Errorf("%w: -log-level %q: use trace, debug, info, warn, error or off", errUsage, level)
	}
	return o, o.validate()
}

func (o *options) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
	}
	for _, f := range []struct{ name, v string }{{"-id", o.id}, {"-dir", o.dir}, {"-raft-addr", o.raftAddr}, {"-admin-addr", o.adminAddr}, {"-proxy-addr", o.proxyAddr}} {
		if f.v == "" {
			return bad("%s is required", f.name)
		}
	}
	for _, f := range []struct{ name, v string }{{"-raft-addr", o.raftAddr}, {"-admin-addr", o.adminAddr}, {"-proxy-addr", o.proxyAddr}} {
		if _, _, err := net.SplitHostPort(f.v); err != nil {
			return bad("%s %q: %v", f.name, f.v, err)
		}
	}
	if o.raftAddr == o.adminAddr || o.raftAddr == o.proxyAddr || o.adminAddr == o.proxyAddr {
		return bad("-raft-addr, -admin-addr and -proxy-addr must differ")
	}
	for _, j := range o.join {
		if _, _, err := net.SplitHostPort(j); err != nil {
			return bad("-join %q: %v", j, err)
		}
	}
	if o.bootstrap && len(o.join) > 0 {
		return bad("-bootstrap and -join exclude each other: a node either starts a cluster or joins one")
	}
	if o.bootstrap && o.nonVoter {
		return bad("-nonvoter: the bootstrapping node must be a voter")
	}
	if n := countSet(o.tlsCert, o.tlsKey, o.tlsCA); n != 0 && n != 3 {
		return bad("-tls-cert, -tls-key and -tls-ca go together")
	}
	if o.adminTLS && o.tlsCert == "" {
		return bad("-admin-tls needs -tls-cert and -tls-key")
	}
	if err := o.validateAdminAuth(); err != nil {
		return bad("%v", err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"-raft-timeout", o.raftTimeout}, {"-request-timeout", o.requestTimeout}, {"-join-timeout", o.joinTimeout}, {"-shutdown-timeout", o.shutdownTimeout}} {
		if d.v <= 0 {
			return bad("%s must be positive", d.name)
		}
	}
	if o.raftTimeout < 50*time.Millisecond {
		return bad("-raft-timeout %v is below raft's minimum workable 50ms", o.raftTimeout)
	}
	if o.requestTimeout > time.Minute {
		return bad("-request-timeout is at most 1m")
	}
	if o.snapshotInterval < 0 || o.recoveredGrace < 0 || o.autopilotStabilization < 0 {
		return bad("-snapshot-interval, -recovered-grace and -autopilot-stabilization must not be negative")
	}
	return nil
}

// validateAdminAuth checks that the admin API authenticates its callers,
// or that -admin-insecure was asked for on a loopback address only.
func (o *options) validateAdminAuth() error {
	if o.adminClientCA != "" && !o.adminTLS {
		return errors.New("-admin-client-ca needs -admin-tls: client certificates are asked for in the TLS handshake")
	}
	authed := o.adminTokenFile != "" || o.adminClientCA != ""
	switch {
	case authed && o.adminInsecure:
		return errors.New("-admin-insecure excludes -admin-token-file and -admin-client-ca")
	case !authed && !o.adminInsecure:
		return errors.New("the admin API needs authentication: give -admin-token-file FILE, or -admin-tls with -admin-client-ca CA, or both " +
			"(-admin-insecure serves it unauthenticated, on a loopback -admin-addr only)")
	case o.adminInsecure && !isLoopbackHost(o.adminAddr):
		return fmt.Errorf("-admin-insecure: -admin-addr %q is not a loopback address; an unauthenticated admin API there lets anyone who reaches it rewrite routes and remove members", o.adminAddr)
	}
	return nil
}

// isLoopbackHost reports whether hostport's host is "localhost" or a
// loopback IP. An empty host means every address, so it is not.
func isLoopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func countSet(vs ...string) int {
	n := 0
	for _, v := range vs {
		if v != "" {
			n++
		}
	}
	return n
}
