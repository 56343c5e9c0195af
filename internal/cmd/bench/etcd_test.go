package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakePeerEnv makes the test binary act as an etcd peer that speaks the
// line protocol without etcd: it answers "writes" with a fixed result,
// "fail" with an error, "hang" never, and everything else with ok.
const fakePeerEnv = "RAFTKIT_BENCH_FAKE_ETCDPEER"

func runFakePeer() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var req etcdRequest
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			fmt.Printf("{\"ok\":false,\"error\":%q}\n", err.Error())
			continue
		}
		switch req.Op {
		case "writes":
			fmt.Printf("{\"ok\":true,\"result\":{\"ops\":%d,\"elapsed_ns\":1000000000,\"p50_ns\":1000,\"p99_ns\":2000}}\n", req.Conc*10)
		case "fail":
			fmt.Println(`{"ok":false,"error":"no such thing"}`)
		case "garble":
			fmt.Println(`not json`)
		case "hang":
			select {}
		default:
			fmt.Println(`{"ok":true,"result":{}}`)
		}
	}
}

func startFakePeer(t *testing.T) *etcdPeer {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakePeerEnv, "1")
	p, err := startEtcdPeer(exe, filepath.Join(t.TempDir(), "peer.log"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEtcdPeerProtocol(t *testing.T) {
	p := startFakePeer(t)
	ctx := context.Background()
	s, err := p.do(ctx, etcdRequest{Op: "writes", Conc: 7})
	if err != nil {
		t.Fatal(err)
	}
	if s.Ops != 70 || s.throughput() != 70 || s.P50Ns != 1000 || s.P99Ns != 2000 {
		t.Fatalf("sample %+v", s)
	}
	if _, err := p.do(ctx, etcdRequest{Op: "fail"}); !errors.Is(err, errEtcdPeer) || !strings.Contains(err.Error(), "no such thing") {
		t.Fatalf("error answer: %v", err)
	}
	if _, err := p.do(ctx, etcdRequest{Op: "garble"}); !errors.Is(err, errEtcdPeer) {
		t.Fatalf("garbled answer: %v", err)
	}
	if p.exited() {
		t.Fatal("peer marked gone after answering")
	}
	if err := p.close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func TestEtcdPeerHangIsKilled(t *testing.T) {
	p := startFakePeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := p.do(ctx, etcdRequest{Op: "hang"})
	if !errors.Is(err, errEtcdPeer) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hang: %v", err)
	}
	if !p.exited() {
		t.Fatal("a peer that did not answer is not marked gone")
	}
	if _, err := p.do(context.Background(), etcdRequest{Op: "writes", Conc: 1}); !errors.Is(err, errEtcdPeer) {
		t.Fatalf("request to a killed peer: %v", err)
	}
	p.close() // exit status of a killed process
}
