package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// writer keeps writing routes through a rotation of nodes and records
// every acknowledged write.
type writer struct {
	c       *gwCluster
	prefix  string
	target  string // upstream URL every route points at
	mu      sync.Mutex
	via     []*gwNode
	acked   map[string]uint64 // route ID -> index of the acknowledged write
	sentAt  []time.Time       // of each acknowledged write
	ackedAt []time.Time
	failed  int
	stop    chan struct{}
	done    chan struct{}
}

func startWriter(c *gwCluster, prefix, target string, via ...*gwNode) *writer {
	w := &writer{c: c, prefix: prefix, target: target, via: via, acked: map[string]uint64{}, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *writer) run() {
	defer close(w.done)
	for k := 0; ; k++ {
		select {
		case <-w.stop:
			return
		default:
		}
		w.mu.Lock()
		n := w.via[k%len(w.via)]
		w.mu.Unlock()
		id := fmt.Sprintf("%s-%04d", w.prefix, k)
		sent := time.Now()
		r, err := w.c.do(n, "PUT", "/v1/routes/"+id+"?timeout=3s", routeJSON("/"+id, false, "", w.target))
		w.mu.Lock()
		if err == nil && r.code == 200 {
			var res struct{ Index uint64 }
			if json.Unmarshal(r.body, &res) == nil && res.Index > 0 {
				w.acked[id] = res.Index
				w.sentAt = append(w.sentAt, sent)
				w.ackedAt = append(w.ackedAt, time.Now())
			}
		} else {
			// No leader yet, or an outcome the node could not know
			// (504): not acknowledged, so not checked.
			w.failed++
		}
		w.mu.Unlock()
		if err != nil {
			time.Sleep(50 * time.Millisecond) // pacing: that node is down
		}
	}
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// firstAckAfter returns when the first write sent after t was
// acknowledged.
func (w *writer) firstAckAfter(t time.Time) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, at := range w.sentAt {
		if at.After(t) {
			return w.ackedAt[i], true
		}
	}
	return time.Time{}, false
}

// latest returns the acknowledged write with the highest index.
func (w *writer) latest() (string, uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	id := lastID(w.acked)
	return id, w.acked[id]
}

// finish stops the writer and returns what was acknowledged.
func (w *writer) finish() (map[string]uint64, uint64, int) {
	close(w.stop)
	<-w.done
	var last uint64
	for _, idx := range w.acked {
		last = max(last, idx)
	}
	return w.acked, last, w.failed
}

// checkAcked fails unless node n holds every acknowledged route, read at
// the given query (a consistency level, and wait_index for stale reads).
func checkAcked(t *testing.T, c *gwCluster, n *gwNode, acked map[string]uint64, q string) {
	t.Helper()
	r := c.mustDo(n, "GET", "/v1/routes?"+q, "")
	if r.code != 200 {
		t.Fatalf("%s list: %d %s", n.id, r.code, r.body)
	}
	var l struct {
		Routes []struct {
			ID            string `json:"id"`
			ModifiedIndex uint64 `json:"modified_index"`
		}
	}
	r.decode(t, &l)
	have := map[string]uint64{}
	for _, rt := range l.Routes {
		have[rt.ID] = rt.ModifiedIndex
	}
	for id, idx := range acked {
		if have[id] != idx {
			t.Errorf("%s (%s): acknowledged route %s at index %d is missing or different (has %d)", n.id, q, id, idx, have[id])
		}
	}
}

// A follower killed with SIGKILL while writes go on comes back: its proxy
// serves nothing until the node is ready, then serves the latest
// configuration, built once.
func TestFollowerKilledWhileWritingComesBackReadyThenServes(t *testing.T) {
	// Small snapshot thresholds, so that the restart restores a snapshot
	// and replays the log tail after it.
	c := newCluster(t, 3, clusterOpts{extra: []string{"-snapshot-threshold", "16", "-snapshot-interval", "200ms"}})
	a, b := newTestUpstream(t, "a"), newTestUpstream(t, "b")
	leader, followers := c.leader()
	victim, other := followers[0], followers[1]
	c.put(other, "svc", routeJSON("/svc", false, "", a.URL))

	w := startWriter(c, "w", a.URL, other, leader)
	waitFor(t, waitLong, "20 writes acknowledged", func() bool { return w.count() >= 20 })
	// Let the victim record its applied index durably past a write we
	// know, so that it must bring that write back from its own disk.
	known, knownIdx := w.latest()
	waitFor(t, waitLong, victim.id+" records index "+fmt.Sprint(knownIdx), func() bool {
		st, err := c.status(victim)
		return err == nil && st.Persisted >= knownIdx
	})
	victim.kill()
	killedAt := w.count()
	waitFor(t, waitLong, "20 more writes acknowledged with the follower dead", func() bool { return w.count() >= killedAt+20 })
	acked, _, failed := w.finish()
	// The latest configuration: svc moves to upstream b while the victim
	// is down.
	latest := c.put(leader, "svc", routeJSON("/svc", false, "", b.URL))
	t.Logf("%d writes acknowledged (%d while %s was down), %d failed; latest index %d", len(acked), len(acked)-killedAt, victim.id, failed, latest)

	// Freeze the other two, so the victim restarts without a quorum and
	// stays short of ready for as long as the test looks.
	leader.pause()
	other.pause()
	victim.restart()
	waitFor(t, waitLong, victim.id+" has recovered its local state", func() bool {
		st, err := c.status(victim)
		return err == nil && st.Readiness.State == "recovered"
	})
	logRecovery(t, victim)
	// Recovered: the node already serves stale reads of what it held.
	if r := c.mustDo(victim, "GET", "/v1/routes/"+known+"?consistency=stale", ""); r.code != 200 {
		t.Fatalf("stale read of %s on the recovered node: %d %s", known, r.code, r.body)
	}
	if r := c.mustDo(victim, "GET", "/v1/routes/"+known+"?consistency=strong&timeout=300ms", ""); r.code != 503 {
		t.Fatalf("strong read without a quorum: %d %s", r.code, r.body)
	}
	if r := c.mustDo(victim, "GET", "/readyz", ""); r.code != 503 {
		t.Fatalf("/readyz on the recovering node: %d %s", r.code, r.body)
	}
	if r := c.mustDo(victim, "GET", "/livez", ""); r.code != 200 {
		t.Fatalf("/livez on the recovering node: %d %s", r.code, r.body)
	}
	if !refuses(victim.proxyAddr) {
		t.Fatalf("%s's proxy accepts connections before the node is ready", victim.id)
	}
	if st, _ := c.status(victim); st.Gateway.ProxyServing || st.Gateway.Proxy.FullRebuilds != 0 {
		t.Fatalf("proxy state before ready: %+v", st.Gateway)
	}

	leader.resume()
	other.resume()
	waitFor(t, waitLong, victim.id+"'s proxy accepts connections", func() bool { return !refuses(victim.proxyAddr) })
	// The very first answer is already the latest configuration.
	code, body, err := c.proxyGet(victim, "", "/svc")
	if err != nil || code != 200 || !strings.HasPrefix(body, "b /svc") {
		t.Fatalf("first answer of the restarted proxy: %d %q %v, want upstream b", code, body, err)
	}
	for id := range acked {
		if code, body, err := c.proxyGet(victim, "", "/"+id); err != nil || code != 200 || !strings.HasPrefix(body, "a /"+id) {
			t.Fatalf("route %s on the restarted proxy: %d %q %v", id, code, body, err)
		}
	}
	checkAcked(t, c, victim, acked, "consistency=strong")
	if fr, sw := c.metric(victim, "gateway_proxy_full_rebuilds_total"), c.metric(victim, "gateway_proxy_route_swaps_total"); fr != 1 || sw != 0 {
		t.Fatalf("after the restart: full rebuilds %v, route swaps %v; want 1 and 0", fr, sw)
	}

	// From now on, changes are swapped in one route at a time.
	c.put(victim, "svc", routeJSON("/svc", false, "", a.URL))
	c.waitProxy(victim, "", "/svc", "a /svc")
	if fr, sw := c.metric(victim, "gateway_proxy_full_rebuilds_total"), c.metric(victim, "gateway_proxy_route_swaps_total"); fr != 1 || sw != 1 {
		t.Fatalf("after one more write: full rebuilds %v, route swaps %v; want 1 and 1", fr, sw)
	}
}

// Killing the leader with SIGKILL: writes through the survivors resume
// once they elect a new leader, and no acknowledged route is lost.
func TestLeaderKilledWritesResumeNothingLost(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	a := newTestUpstream(t, "a")
	leader, followers := c.leader()

	w := startWriter(c, "k", a.URL, followers...)
	waitFor(t, waitLong, "10 writes acknowledged", func() bool { return w.count() >= 10 })
	killedAt := time.Now()
	before := w.count()
	leader.kill()
	waitFor(t, waitLong, "a write sent after the leader died is acknowledged", func() bool {
		_, ok := w.firstAckAfter(killedAt)
		return ok
	})
	resumed, _ := w.firstAckAfter(killedAt)
	waitFor(t, waitLong, "10 more writes acknowledged", func() bool { return w.count() >= before+10 })
	acked, last, failed := w.finish()
	newLeader, _ := c.leader(followers...)
	t.Logf("leader %s killed; %s took over; writes resumed %v after the kill (raft timeout %s); %d acknowledged, %d failed",
		leader.id, newLeader.id, resumed.Sub(killedAt).Round(time.Millisecond), raftTimeout, len(acked), failed)

	for _, n := range followers {
		checkAcked(t, c, n, acked, "consistency=strong")
		c.waitProxy(n, "", "/"+lastID(acked), "a /"+lastID(acked))
	}
	// The old leader comes back as a follower with everything.
	leader.restart()
	c.waitReady(leader)
	checkAcked(t, c, leader, acked, fmt.Sprintf("consistency=stale&wait_index=%d", last))
	c.waitProxy(leader, "", "/"+lastID(acked), "a /"+lastID(acked))
	if fr := c.metric(leader, "gateway_proxy_full_rebuilds_total"); fr != 1 {
		t.Fatalf("restarted leader: %v full rebuilds, want 1", fr)
	}
}

func lastID(acked map[string]uint64) string {
	var id string
	var best uint64
	for k, v := range acked {
		if v > best {
			id, best = k, v
		}
	}
	return id
}

// logRecovery shows how the last start of n recovered (snapshot index,
// entries replayed), from its log.
func logRecovery(t *testing.T, n *gwNode) {
	b, err := os.ReadFile(n.logPath)
	if err != nil {
		return
	}
	lines := strings.Split(string(b), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "local recovery done") {
			t.Logf("%s restart: %s", n.id, lines[i])
			return
		}
	}
}
