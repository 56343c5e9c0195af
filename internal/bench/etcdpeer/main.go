package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// logLevel is etcd's log level (-log-level).
var logLevel = "error"

func main() {
	flag.StringVar(&logLevel, "log-level", logLevel, "etcd's log level: debug, info, warn, error")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("etcdpeer: ")
	p := &peer{}
	err := p.serve(context.Background(), os.Stdin, os.Stdout)
	p.stop()
	if err != nil {
		log.Fatal(err)
	}
}

// peer serves the line protocol; it holds at most one cluster.
type peer struct {
	c *cluster
}

// serve answers requests from in on out until in ends. A request that
// fails gets an error response; only an I/O failure ends serve early.
func (p *peer) serve(ctx context.Context, in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	enc := json.NewEncoder(out)
	for sc.Scan() {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		res, err := p.handle(ctx, line)
		resp := Response{OK: err == nil, Result: res}
		if err != nil {
			resp.Error = err.Error()
		}
		if err := enc.Encode(resp); err != nil {
			return fmt.Errorf("writing response: %w", err)
		}
	}
	return sc.Err()
}

// errNoCluster is returned for a load request before start.
var errNoCluster = errors.New("etcdpeer: no cluster running (send start first)")

func (p *peer) handle(ctx context.Context, line []byte) (*Result, error) {
	req, err := parseRequest(line)
	if err != nil {
		return nil, err
	}
	if req.Op != "start" && req.Op != "stop" && p.c == nil {
		return nil, errNoCluster
	}
	switch req.Op {
	case "start":
		if p.c != nil {
			return nil, fmt.Errorf("%w: a cluster is already running", errBadRequest)
		}
		c, err := startCluster(ctx, req.Dir)
		if err != nil {
			return nil, err
		}
		p.c = c
		return &Result{}, nil
	case "stop":
		p.stop()
		return &Result{}, nil
	case "writes":
		return p.writes(ctx, req)
	case "reads":
		return p.reads(ctx, req)
	case "join":
		took, err := p.c.join(ctx, req.Bytes, req.ValueSize)
		if err != nil {
			return nil, err
		}
		return &Result{Ops: 1, ElapsedNs: int64(took)}, nil
	}
	return nil, fmt.Errorf("%w: unhandled op %q", errBadRequest, req.Op)
}

func (p *peer) stop() {
	if p.c != nil {
		p.c.close()
		p.c = nil
	}
}

// opTimeout bounds one operation of a load run.
const opTimeout = 10 * time.Second

// writes puts size-byte key+value pairs, each writer cycling over its own
// 100 keys.
func (p *peer) writes(ctx context.Context, req Request) (*Result, error) {
	m, err := p.c.pick(ctx, req.On)
	if err != nil {
		return nil, err
	}
	res := runLoad(ctx, req.Conc, req.warmup(), req.duration(), func(ctx context.Context, w, i int) error {
		key := fmt.Sprintf("w%04d-%02d", w, i%100)
		value := strings.Repeat("x", max(1, req.Size-len(key)))
		ctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		_, err := m.client.Put(ctx, key, value)
		return err
	})
	return &res, nil
}

// readKey is the key read by read runs.
const readKey = "read-key"

// reads gets one key, linearizable or serializable.
func (p *peer) reads(ctx context.Context, req Request) (*Result, error) {
	l, err := p.c.leader(ctx)
	if err != nil {
		return nil, err
	}
	put, err := l.client.Put(ctx, readKey, strings.Repeat("r", 92))
	if err != nil {
		return nil, fmt.Errorf("etcdpeer: writing the read key: %w", err)
	}
	m, err := p.c.pick(ctx, req.On)
	if err != nil {
		return nil, err
	}
	// The member must hold the key before a serializable read can see it.
	for m.etcd.Server.AppliedIndex() < l.etcd.Server.AppliedIndex() {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	var opts []clientv3.OpOption
	if req.Mode == "serializable" {
		opts = append(opts, clientv3.WithSerializable())
	}
	want := put.Header.Revision
	res := runLoad(ctx, req.Conc, req.warmup(), req.duration(), func(ctx context.Context, _, _ int) error {
		ctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		r, err := m.client.Get(ctx, readKey, opts...)
		if err != nil {
			return err
		}
		if len(r.Kvs) != 1 || r.Kvs[0].ModRevision != want {
			return fmt.Errorf("etcdpeer: read %d values of %q, want the one written at revision %d", len(r.Kvs), readKey, want)
		}
		return nil
	})
	return &res, nil
}
