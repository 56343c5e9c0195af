package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/raftkit/raftkit/examples/gateway/route"
	"github.com/raftkit/raftkit/examples/gateway/store"
	"github.com/raftkit/raftkit/readiness"
)

// Source is what the proxy reads its table from: the gateway's store.
type Source interface {
	Resolved() ([]route.Resolved, uint64)
	ChangedSince(from uint64) (store.Delta, error)
}

// Options tunes a Proxy. The zero value works.
type Options struct {
	// Transport carries requests to upstreams. Default: a clone of
	// http.DefaultTransport with a larger idle pool per upstream, that
	// ignores the proxy environment variables (HTTP_PROXY, ...).
	Transport http.RoundTripper
	// Logger receives table updates and upstream errors. Default: none.
	Logger hclog.Logger
	// Upstreams, when set, is checked on every address the default
	// Transport dials (see route.UpstreamPolicy.DialControl); a refused
	// upstream answers 502. It is not applied to a Transport given above.
	Upstreams *route.UpstreamPolicy
	// Fence, when set, is called with the store index of a table before
	// the proxy serves it, and the table is served only if it returns nil.
	// The gateway passes raftsync.Node.Fence, so that with the node's read
	// fence on the proxy never serves, after a crash, a table older than
	// one it served before. When it fails (the node closing, the record
	// not written within FenceTimeout) the proxy keeps serving the table it
	// had, which was fenced, and tries again at the next change.
	Fence func(ctx context.Context, index uint64) error
}

// FenceTimeout bounds one call of Options.Fence.
const FenceTimeout = 10 * time.Second

// Proxy is the data plane: an http.Handler that serves from a route table
// kept in step with a Source. Until the table is first built it answers
// 503 to everything (the gateway does not open its listener before that).
// All methods are safe for concurrent use.
type Proxy struct {
	src       Source
	fence     func(ctx context.Context, index uint64) error
	log       hclog.Logger
	transport http.RoundTripper
	rp        *httputil.ReverseProxy

	table atomic.Pointer[index]

	mu    sync.Mutex // serializes table updates
	built bool
	seen  uint64 // store index the table reflects
	// synced is the node's applied index the table is known to cover:
	// the highest Change.To handled (or the store index of a Build).
	// advanced is closed and replaced each time synced moves.
	synced   atomic.Uint64
	advanced chan struct{}

	fullRebuilds, routeSwaps, indexUpdates, compileErrors atomic.Uint64
	tableIndex                                            atomic.Uint64
	routes                                                atomic.Int64
	noRoute, retries, upstreamErrors, timeouts            atomic.Uint64
	byClass                                               [6]atomic.Uint64 // [0] no status; [1..5] 1xx..5xx
}

// Stats is a point-in-time copy of the proxy's counters.
type Stats struct {
	Built bool `json:"built"`
	// FullRebuilds counts builds of the whole table: 1 after a normal
	// start, plus one for each time the store could not say what changed
	// (store.ErrCompacted).
	FullRebuilds uint64 `json:"full_rebuilds"`
	// RouteSwaps counts routes updated one at a time after the first
	// build: each route added, changed or removed by a change counts once.
	RouteSwaps uint64 `json:"route_swaps"`
	// IndexUpdates counts the incremental updates that needed a new
	// matching index (some route was added, removed, or moved to another
	// host or prefix), one per update however many routes it moved. An
	// update whose routes all kept their host and prefix swaps them in
	// place and does not count here.
	IndexUpdates  uint64 `json:"index_updates"`
	CompileErrors uint64 `json:"compile_errors"`
	Routes        int64  `json:"routes"`
	TableIndex    uint64 `json:"table_index"`
	// SyncedIndex is the node's applied index the table covers: a write
	// at or below it is served.
	SyncedIndex    uint64 `json:"synced_index"`
	NoRoute        uint64 `json:"no_route"`
	Retries        uint64 `json:"retries"`
	UpstreamErrors uint64 `json:"upstream_errors"`
	Timeouts       uint64 `json:"timeouts"`
	// Responses counts responses by status class: index 0 for requests
	// that ended without a status, 1 to 5 for 1xx to 5xx.
	Responses [6]uint64 `json:"responses"`
}

// New returns a Proxy reading from src. Its table is empty until Build or
// the first Sync.
func New(src Source, o Options) *Proxy {
	p := &Proxy{src: src, fence: o.Fence, log: o.Logger, transport: o.Transport, advanced: make(chan struct{})}
	if p.log == nil {
		p.log = hclog.NewNullLogger()
	}
	if p.transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 1024
		t.MaxIdleConnsPerHost = 128
		// Upstreams are dialled directly, never through HTTP_PROXY and
		// the like: the address policy judges the real destination.
		t.Proxy = nil
		d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
		if o.Upstreams != nil {
			d.Control = o.Upstreams.DialControl
		}
		t.DialContext = d.DialContext
		p.transport = t
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      p.transport,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       p.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	return p
}

// Close releases the idle upstream connections. The Proxy keeps working;
// call it at shutdown, after the server has stopped.
func (p *Proxy) Close() {
	if t, ok := p.transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
}

// Built reports whether the table has been built.
func (p *Proxy) Built() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.built
}

// Build builds the whole table from the source if it has not been built
// yet, and does nothing otherwise. The gateway calls it once WaitReady has
// returned, so the proxy can serve even when WaitReady returned early (the
// recovered-state grace) and no Initial change has come.
func (p *Proxy) Build() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.built && p.rebuildLocked("first build") {
		p.advanceLocked(p.seen)
	}
}

// Sync brings the table up to date after a change notification. The first
// call (normally with the Initial change, at the node's first Ready)
// builds the whole table; later calls ask the source what changed since
// the table's index and swap those routes only. A change the table already
// covers does nothing. Sync blocks for the store's read lock, the
// Options.Fence of the new table's index, and the compilation of the
// changed routes.
func (p *Proxy) Sync(ch readiness.Change) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.syncLocked(ch) {
		p.advanceLocked(ch.To)
	}
}

// syncLocked reports whether the table now covers ch.
func (p *Proxy) syncLocked(ch readiness.Change) bool {
	if !p.built {
		return p.rebuildLocked("first build")
	}
	if ch.To <= p.seen {
		return true
	}
	d, err := p.src.ChangedSince(p.seen)
	if errors.Is(err, store.ErrCompacted) {
		return p.rebuildLocked(err.Error())
	}
	if err != nil {
		p.log.Error("reading changes failed; rebuilding", "error", err)
		return p.rebuildLocked(err.Error())
	}
	return p.applyLocked(d)
}

// fenceLocked calls Options.Fence for a table at index and reports
// whether that table may be served.
func (p *Proxy) fenceLocked(index uint64) bool {
	if p.fence == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), FenceTimeout)
	defer cancel()
	if err := p.fence(ctx, index); err != nil {
		p.log.Error("read fence failed; keeping the current route table", "index", index, "error", err)
		return false
	}
	return true
}

// advanceLocked records that the table covers the node's index to and
// wakes WaitIndex callers.
func (p *Proxy) advanceLocked(to uint64) {
	if to <= p.synced.Load() {
		return
	}
	p.synced.Store(to)
	close(p.advanced)
	p.advanced = make(chan struct{})
}

// WaitIndex blocks until the table covers the node's log index (a write's
// index, from any node): from then on the proxy serves that write. It
// returns ctx's error when ctx ends first. The admin API exposes it so that
// a deploy script can wait until every node's data plane serves a change.
func (p *Proxy) WaitIndex(ctx context.Context, index uint64) error {
	for {
		p.mu.Lock()
		if p.synced.Load() >= index {
			p.mu.Unlock()
			return nil
		}
		ch := p.advanced
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Run calls Sync for every change received, until changes is closed (the
// node closes its subscriptions at Close).
func (p *Proxy) Run(changes <-chan readiness.Change) {
	for ch := range changes {
		p.Sync(ch)
	}
}

func (p *Proxy) rebuildLocked(why string) bool {
	all, at := p.src.Resolved()
	if !p.fenceLocked(at) {
		return false
	}
	slots := make(map[string]*slot, len(all))
	for _, r := range all {
		c, err := compile(r)
		if err != nil {
			p.compileErrors.Add(1)
			p.log.Error("route skipped", "route", r.ID, "error", err)
			continue
		}
		slots[r.ID] = newSlot(c)
	}
	p.table.Store(newIndex(slots))
	p.built, p.seen = true, at
	p.fullRebuilds.Add(1)
	p.routes.Store(int64(len(slots)))
	p.tableIndex.Store(at)
	p.log.Info("route table built", "routes", len(slots), "index", at, "reason", why)
	return true
}

func (p *Proxy) applyLocked(d store.Delta) bool {
	// Routes swap in place below: they are served as soon as they are
	// stored, so the fence comes first.
	if !p.fenceLocked(d.To) {
		return false
	}
	ix := p.table.Load()
	var moved []*slot
	var removed []string
	for _, r := range d.Changed {
		c, err := compile(r)
		if err != nil {
			// The store validated the route; this is a bug. Keep serving
			// the previous version rather than drop the route.
			p.compileErrors.Add(1)
			p.log.Error("route change skipped", "route", r.ID, "error", err)
			continue
		}
		if s, ok := ix.byID[r.ID]; ok && s.host == c.host && s.prefix == c.prefix {
			s.cur.Store(c) // in place: nothing else changes
		} else {
			moved = append(moved, newSlot(c))
		}
		p.routeSwaps.Add(1)
	}
	for _, id := range d.Removed {
		if _, ok := ix.byID[id]; ok {
			removed = append(removed, id)
			p.routeSwaps.Add(1)
		}
	}
	if len(moved) > 0 || len(removed) > 0 {
		ix = ix.withChanges(moved, removed)
		p.table.Store(ix)
		p.indexUpdates.Add(1)
	}
	p.seen = d.To
	p.routes.Store(int64(len(ix.byID)))
	p.tableIndex.Store(d.To)
	if len(d.Changed) > 0 || len(removed) > 0 {
		p.log.Debug("routes swapped", "changed", len(d.Changed), "removed", len(removed), "index", d.To)
	}
	return true
}

// Stats returns the proxy's counters. It never blocks.
func (p *Proxy) Stats() Stats {
	s := Stats{
		Built:          p.table.Load() != nil,
		FullRebuilds:   p.fullRebuilds.Load(),
		RouteSwaps:     p.routeSwaps.Load(),
		IndexUpdates:   p.indexUpdates.Load(),
		CompileErrors:  p.compileErrors.Load(),
		Routes:         p.routes.Load(),
		TableIndex:     p.tableIndex.Load(),
		SyncedIndex:    p.synced.Load(),
		NoRoute:        p.noRoute.Load(),
		Retries:        p.retries.Load(),
		UpstreamErrors: p.upstreamErrors.Load(),
		Timeouts:       p.timeouts.Load(),
	}
	for i := range p.byClass {
		s.Responses[i] = p.byClass[i].Load()
	}
	return s
}
