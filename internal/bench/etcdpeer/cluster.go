package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
)

// startTimeout bounds how long a member may take to become ready.
const startTimeout = 2 * time.Minute

// joinTimeout bounds how long a joining member may take to serve.
const joinTimeout = time.Minute

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// member is one embedded etcd server and its in-process client.
type member struct {
	name    string
	peerURL string
	etcd    *embed.Etcd
	client  *clientv3.Client
}

// cluster is a set of members in this process.
type cluster struct {
	dir     string
	members []*member
}

// freeURL returns an http URL on a free loopback port.
func freeURL() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return "http://" + ln.Addr().String(), nil
}

// memberConfig builds an embed.Config for a member on loopback. Everything
// not set here is etcd's default (heartbeat 100ms, election 1s, snapshot
// count 10000, backend batch interval 100ms, fsync on).
func memberConfig(dir, name, peerURL, clientURL, initialCluster, state string) (*embed.Config, error) {
	pu, err := url.Parse(peerURL)
	if err != nil {
		return nil, err
	}
	cu, err := url.Parse(clientURL)
	if err != nil {
		return nil, err
	}
	cfg := embed.NewConfig()
	cfg.Name = name
	cfg.Dir = filepath.Join(dir, name)
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.InitialCluster = initialCluster
	cfg.InitialClusterToken = "raftkit-bench"
	cfg.ClusterState = state
	cfg.LogLevel = logLevel
	cfg.LogOutputs = []string{"stderr"}
	return cfg, nil
}

// startCluster starts a new three-member cluster under dir and waits until
// every member is ready and a leader is known.
func startCluster(ctx context.Context, dir string) (_ *cluster, err error) {
	c := &cluster{dir: dir}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	var peers, clients, parts []string
	for i := 0; i < 3; i++ {
		p, err := freeURL()
		if err != nil {
			return nil, err
		}
		cl, err := freeURL()
		if err != nil {
			return nil, err
		}
		peers, clients = append(peers, p), append(clients, cl)
		parts = append(parts, fmt.Sprintf("m%d=%s", i, p))
	}
	initial := strings.Join(parts, ",")
	for i := 0; i < 3; i++ {
		cfg, err := memberConfig(dir, fmt.Sprintf("m%d", i), peers[i], clients[i], initial, embed.ClusterStateFlagNew)
		if err != nil {
			return nil, err
		}
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			return nil, fmt.Errorf("etcdpeer: starting m%d: %w", i, err)
		}
		c.members = append(c.members, &member{name: cfg.Name, peerURL: peers[i], etcd: e})
	}
	for _, m := range c.members {
		if err := waitReady(ctx, m.etcd); err != nil {
			return nil, fmt.Errorf("etcdpeer: %s: %w", m.name, err)
		}
		m.client = v3client.New(m.etcd.Server)
	}
	if _, err := c.leader(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func waitReady(ctx context.Context, e *embed.Etcd) error {
	t := time.NewTimer(startTimeout)
	defer t.Stop()
	select {
	case <-e.Server.ReadyNotify():
		return nil
	case err := <-e.Err():
		return fmt.Errorf("failed while starting: %w", err)
	case <-t.C:
		return errors.New("not ready after " + startTimeout.String())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leader returns the member that leads, waiting until all members agree
// on one.
func (c *cluster) leader(ctx context.Context) (*member, error) {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		lead := c.members[0].etcd.Server.Leader()
		agree := lead != 0
		var found *member
		for _, m := range c.members {
			if m.etcd.Server.Leader() != lead {
				agree = false
			}
			if m.etcd.Server.MemberID() == lead {
				found = m
			}
		}
		if agree && found != nil {
			return found, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("etcdpeer: no agreed leader: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// pick returns the leader, or a member that is not the leader.
func (c *cluster) pick(ctx context.Context, on string) (*member, error) {
	l, err := c.leader(ctx)
	if err != nil {
		return nil, err
	}
	if on == "leader" {
		return l, nil
	}
	for _, m := range c.members {
		if m != l {
			return m, nil
		}
	}
	return nil, errors.New("etcdpeer: no follower")
}

// close stops every member, newest first.
func (c *cluster) close() {
	var wg sync.WaitGroup
	for _, m := range c.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if m.client != nil {
				m.client.Close()
			}
			m.etcd.Close()
		}()
	}
	wg.Wait()
	c.members = nil
}

// join writes bytes of state in values of valueSize bytes, adds a fourth
// member and returns the time from starting it until it is ready and has
// applied everything the leader had committed when it started.
func (c *cluster) join(ctx context.Context, bytes int64, valueSize int) (time.Duration, error) {
	l, err := c.leader(ctx)
	if err != nil {
		return 0, err
	}
	if err := fillState(ctx, l.client, bytes, valueSize); err != nil {
		return 0, err
	}
	peer, err := freeURL()
	if err != nil {
		return 0, err
	}
	client, err := freeURL()
	if err != nil {
		return 0, err
	}
	name := fmt.Sprintf("m%d", len(c.members))
	if err := memberAdd(ctx, l.client, peer); err != nil {
		return 0, err
	}
	var parts []string
	for _, m := range c.members {
		parts = append(parts, m.name+"="+m.peerURL)
	}
	parts = append(parts, name+"="+peer)
	// A new member learns the membership from the existing ones; one that
	// has not applied the add yet would refuse it ("member count is
	// unequal"), so wait until all have.
	for _, m := range c.members {
		for len(m.etcd.Server.Cluster().Members()) < len(c.members)+1 {
			select {
			case <-ctx.Done():
				return 0, fmt.Errorf("etcdpeer: waiting for %s to apply the member add: %w", m.name, ctx.Err())
			case <-time.After(time.Millisecond):
			}
		}
	}
	cfg, err := memberConfig(c.dir, name, peer, client, strings.Join(parts, ","), embed.ClusterStateFlagExisting)
	if err != nil {
		return 0, err
	}
	target := l.etcd.Server.CommittedIndex()
	start := time.Now()
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return 0, fmt.Errorf("etcdpeer: starting %s: %w", name, err)
	}
	m := &member{name: name, peerURL: peer, etcd: e}
	c.members = append(c.members, m)
	wctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	err = waitReady(wctx, e)
	for err == nil && e.Server.AppliedIndex() < target {
		select {
		case <-wctx.Done():
			err = wctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	if err != nil {
		s := e.Server
		return 0, fmt.Errorf("etcdpeer: new member %s after %v: %w (ready: %v, applied %d, committed %d, leader %x, target %d, leader applied %d)",
			name, time.Since(start).Round(time.Millisecond), err, isClosed(s.ReadyNotify()), s.AppliedIndex(), s.CommittedIndex(), uint64(s.Leader()), target, l.etcd.Server.AppliedIndex())
	}
	took := time.Since(start)
	m.client = v3client.New(e.Server)
	return took, nil
}

// fillState writes bytes of state as distinct keys from 16 writers.
func fillState(ctx context.Context, cli *clientv3.Client, bytes int64, valueSize int) error {
	n := int(bytes / int64(valueSize))
	value := strings.Repeat("v", valueSize)
	const writers = 16
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += writers {
				if _, err := cli.Put(ctx, fmt.Sprintf("state/%09d", i), value); err != nil {
					errs <- fmt.Errorf("etcdpeer: filling state: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// memberAdd adds peerURL as a voting member. etcd refuses a member add
// ("unhealthy cluster") until every member has been connected for a few
// seconds (its strict reconfiguration check), so it retries that refusal
// for up to a minute.
func memberAdd(ctx context.Context, cli *clientv3.Client, peerURL string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		_, err := cli.MemberAdd(ctx, []string{peerURL})
		if err == nil {
			return nil
		}
		if !errors.Is(err, rpctypes.ErrUnhealthy) {
			return fmt.Errorf("etcdpeer: member add: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("etcdpeer: member add: %w (last refusal: %w)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
