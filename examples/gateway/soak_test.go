package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestSoakRollingKills kills each node in turn with SIGKILL, twice, while
// writes go on through every node and traffic goes through the survivors'
// proxies. The data plane does not depend on Raft: the survivors must
// serve every request, even while the leader is dead. Every restarted node
// must build its table once, and no acknowledged write may be lost.
//
// It takes about half a minute more than the other process tests, so it
// runs only with GATEWAY_SOAK=1.
func TestSoakRollingKills(t *testing.T) {
	if os.Getenv("GATEWAY_SOAK") == "" {
		t.Skip("set GATEWAY_SOAK=1 to run this scenario (about 30s)")
	}
	c := newCluster(t, 3, clusterOpts{extra: []string{"-snapshot-threshold", "32", "-snapshot-interval", "200ms"}})
	a := newTestUpstream(t, "a")
	hot := c.put(c.nodes[0], "hot", routeJSON("/hot", false, "", a.URL))
	for _, n := range c.nodes {
		c.mustDo(n, "GET", fmt.Sprintf("/v1/proxy?wait_index=%d", hot), "")
	}
	w := startWriter(c, "s", a.URL, c.nodes...)

	for cycle := 0; cycle < 6; cycle++ {
		victim := c.nodes[cycle%3]
		var survivors []*gwNode
		for _, n := range c.nodes {
			if n != victim {
				survivors = append(survivors, n)
			}
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var served, failed atomic.Int64
		var first atomic.Value
		for _, n := range survivors {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					code, body, err := c.proxyGet(n, "", "/hot/x")
					if err != nil || code != 200 || !strings.HasPrefix(body, "a /hot/x") {
						failed.Add(1)
						first.CompareAndSwap(nil, fmt.Sprint(n.id, " ", code, " ", body, " ", err))
					} else {
						served.Add(1)
					}
				}
			}()
		}
		before := w.count()
		victim.kill()
		waitFor(t, waitLong, "10 writes acknowledged with "+victim.id+" dead", func() bool { return w.count() >= before+10 })
		victim.restart()
		c.waitReady(victim)
		close(stop)
		wg.Wait()
		t.Logf("cycle %d: killed %s; survivors served %d requests, %d failed; %d writes acknowledged so far",
			cycle, victim.id, served.Load(), failed.Load(), w.count())
		if failed.Load() != 0 {
			t.Fatalf("cycle %d: the survivors' proxies failed %d requests; first: %v", cycle, failed.Load(), first.Load())
		}
		if fr := c.metric(victim, "gateway_proxy_full_rebuilds_total"); fr != 1 {
			t.Fatalf("cycle %d: %s rebuilt its table %v times at restart", cycle, victim.id, fr)
		}
	}
	acked, last, failed := w.finish()
	t.Logf("%d writes acknowledged, %d failed", len(acked), failed)
	for _, n := range c.nodes {
		checkAcked(t, c, n, acked, fmt.Sprintf("consistency=stale&wait_index=%d", last))
	}
}
