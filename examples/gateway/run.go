package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/examples/gateway/admin"
	"github.com/raftkit/raftkit/examples/gateway/proxy"
	"github.com/raftkit/raftkit/examples/gateway/route"
	"github.com/raftkit/raftkit/examples/gateway/store"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
	"github.com/raftkit/raftkit/snapshot"
)

// gateway is one running node: the raft node, the admin API and, once the
// node is ready, the proxy.
type gateway struct {
	o       options
	log     hclog.Logger
	node    *raftsync.Node
	store   store.Store
	proxy   *proxy.Proxy
	admin   *admin.Server
	serving atomic.Bool

	adminAddr, proxyAddr atomic.Pointer[string]
}

// run starts a node and serves until ctx ends (a signal), then shuts down
// in order: the proxy drains its in-flight requests, the admin API stops,
// the node closes. It returns the first error that stopped it.
func run(ctx context.Context, o options, logOut io.Writer) (err error) {
	log := hclog.New(&hclog.LoggerOptions{Name: "gateway", Level: o.logLevel, Output: logOut})
	g := &gateway{o: o, log: log}

	cfg, err := g.nodeConfig()
	if err != nil {
		return err
	}
	auth, err := g.adminAuth()
	if err != nil {
		return err
	}
	// The upstream address policy: the admin API checks every route and
	// group against it, and the proxy every address it dials. The node's
	// own listeners are added as they become known.
	policy := &route.UpstreamPolicy{AllowPrivate: o.allowPrivateUpstreams, AllowLoopback: o.allowLoopbackUpstreams}
	ownAddr := func(addr string) {
		if addr == "" {
			return
		}
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		defer acancel()
		if err := policy.AddOwn(actx, addr); err != nil {
			log.Warn("cannot resolve an own address for the upstream policy", "addr", addr, "error", err)
		}
	}
	for _, a := range []string{o.raftAddr, o.raftAdvertise, o.adminAddr, o.proxyAddr} {
		ownAddr(a)
	}
	// The state machine. To use a durable one (bbolt, say), construct it
	// here: it must implement store.Store, and raftsync.DurableFSM to skip
	// what it already holds at restart.
	g.store = store.NewMem(store.Options{})

	g.node, err = raftsync.Open(ctx, cfg, g.store)
	if err != nil {
		return fmt.Errorf("opening the node: %w", err)
	}
	defer func() {
		if cerr := g.node.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the node: %w", cerr)
		}
	}()
	ownAddr(g.node.AdvertiseAddr())
	log.Info("node open", "id", o.id, "raft", g.node.AdvertiseAddr(), "cluster", g.node.ClusterID(), "readiness", g.node.Readiness().State)

	// The data plane follows the store. The subscription delivers nothing
	// while the node recovers and catches up, then one Initial change at
	// the first Ready (at once if the node is Ready already), then
	// coalesced changes.
	var wg sync.WaitGroup
	defer wg.Wait() // runs after sub.Close below, which ends proxy.Run
	sub := g.node.SubscribeChanges()
	defer sub.Close()
	// With the read fence on, the proxy serves a table only once the
	// node's persisted applied index covers it (a no-op otherwise).
	g.proxy = proxy.New(g.store, proxy.Options{Logger: log.Named("proxy"), Upstreams: policy, Fence: g.node.Fence})
	defer g.proxy.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		g.proxy.Run(sub.C())
	}()

	reg, err := newMetrics(g)
	if err != nil {
		return err
	}
	g.admin, err = admin.New(admin.Config{
		Node: g.node, Store: g.store, Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), DataPlane: g.proxy, Extra: g.statusExtra,
		Timeout: o.requestTimeout, Logger: log.Named("admin"), Auth: auth, Upstreams: policy,
	})
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var servers []*http.Server
	defer func() {
		// Shut down in reverse order of start: proxy first, so in-flight
		// requests finish while the admin API still answers probes.
		sctx, scancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
		defer scancel()
		for i := len(servers) - 1; i >= 0; i-- {
			if serr := servers[i].Shutdown(sctx); serr != nil && err == nil {
				err = fmt.Errorf("shutting down: %w", serr)
			}
		}
	}()
	serve := func(name, addr string, h http.Handler, tc *tls.Config) (string, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", fmt.Errorf("%s listener: %w", name, err)
		}
		if tc != nil {
			ln = tls.NewListener(ln, tc)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.Named(name).StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})}
		servers = append(servers, srv)
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				cancel(fmt.Errorf("%s server: %w", name, err))
			}
		}()
		return ln.Addr().String(), nil
	}

	// The admin API serves at once: probes and status must answer while
	// the node recovers and catches up.
	var adminConf *tls.Config
	if o.adminTLS {
		if adminConf, err = adminTLS(cfg.TLS, o.adminClientCA); err != nil {
			return err
		}
	}
	a, err := serve("admin", o.adminAddr, g.admin, adminConf)
	if err != nil {
		return err
	}
	g.adminAddr.Store(&a)
	ownAddr(a)
	log.Info("admin API listening", "addr", a, "tls", o.adminTLS, "client_certs", o.adminClientCA != "",
		"tokens", auth.Tokens != nil, "insecure", o.adminInsecure)
	if !o.adminTLS && auth.Tokens != nil && !isLoopbackHost(o.adminAddr) {
		log.Warn("admin tokens travel in clear text: anyone who can watch this network can take them; serve the admin API with -admin-tls", "addr", a)
	}

	// The proxy serves only once the node is ready and the route table is
	// built from the state it was ready at.
	if err := g.node.WaitReady(ctx); err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			return cause
		}
		if ctx.Err() != nil {
			log.Info("stopped before the node was ready")
			return nil
		}
		return fmt.Errorf("waiting for ready: %w", err)
	}
	g.proxy.Build()
	p, err := serve("proxy", o.proxyAddr, g.proxy, nil)
	if err != nil {
		return err
	}
	g.proxyAddr.Store(&p)
	ownAddr(p)
	g.serving.Store(true)
	st := g.proxy.Stats()
	log.Info("proxy serving", "addr", p, "routes", st.Routes, "table_index", st.TableIndex, "readiness", g.node.Readiness().State)

	<-ctx.Done()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	log.Info("shutting down")
	return nil
}

// nodeConfig turns the options into the node's configuration.
func (g *gateway) nodeConfig() (raftsync.Config, error) {
	o := g.o
	cfg := raftsync.Config{
		ID:            o.id,
		Dir:           o.dir,
		Addr:          o.raftAddr,
		AdvertiseAddr: o.raftAdvertise,
		Bootstrap:     o.bootstrap,
		Join:          o.join,
		NonVoter:      o.nonVoter,
		ClusterID:     o.clusterID,
		Logger:        g.log.Named("raftkit"),
		ReadFence:     o.readFence,
		Autopilot:     raftsync.AutopilotConfig{Disabled: !o.autopilot, ServerStabilizationTime: o.autopilotStabilization},
		Readiness:     readiness.Policy{RecoveredGrace: o.recoveredGrace},
		Consistency:   consistency.DefaultOptions(),
		Snapshot:      snapshot.DefaultPolicy(),
		JoinTimeout:   o.joinTimeout,
		OnReadinessChange: func(old, new readiness.Status) {
			g.log.Info("readiness", "from", old.State, "to", new.State, "applied", new.Applied, "reason", new.Reason)
		},
		RaftConfig: func(rc *raft.Config) {
			rc.HeartbeatTimeout = o.raftTimeout
			rc.ElectionTimeout = o.raftTimeout
			rc.LeaderLeaseTimeout = o.raftTimeout / 2
		},
	}
	if o.snapshotThreshold > 0 {
		cfg.Snapshot.Threshold = o.snapshotThreshold
	}
	if o.snapshotInterval > 0 {
		cfg.Snapshot.Interval = o.snapshotInterval
	}
	if o.tlsCert != "" {
		tc, err := loadTLS(o.tlsCert, o.tlsKey, o.tlsCA)
		if err != nil {
			return raftsync.Config{}, err
		}
		cfg.TLS = tc
	}
	return cfg, nil
}

// adminAuth builds the admin API's authentication from the flags (parseFlags
// made sure there is some, or -admin-insecure on loopback).
func (g *gateway) adminAuth() (admin.Auth, error) {
	o := g.o
	a := admin.Auth{ClientCerts: o.adminClientCA != "", Insecure: o.adminInsecure}
	if o.adminTokenFile != "" {
		tok, err := admin.LoadTokens(o.adminTokenFile)
		if err != nil {
			return admin.Auth{}, fmt.Errorf("-admin-token-file: %w", err)
		}
		a.Tokens = tok
	}
	if a.Insecure {
		g.log.Warn("the admin API is unauthenticated (-admin-insecure): anyone who reaches " + o.adminAddr + " can change routes and remove members")
	}
	return a, nil
}

// statusExtra is what /status shows under "gateway".
func (g *gateway) statusExtra() any {
	load := func(p *atomic.Pointer[string]) string {
		if s := p.Load(); s != nil {
			return *s
		}
		return ""
	}
	return map[string]any{
		"admin_addr":    load(&g.adminAddr),
		"proxy_addr":    load(&g.proxyAddr),
		"proxy_serving": g.serving.Load(),
		"proxy":         g.proxy.Stats(),
	}
}
