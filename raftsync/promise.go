package raftsync

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/raftkit/raftkit/internal/boltstore"
)

// stableKeyPromise holds the promiseRecord: the last leader this node
// promised not to vote against (see handleConfirm).
var stableKeyPromise = []byte("raftkit.promise")

// promiseRecord names the leader and term of the last promise a node
// made. The zero record says that no promise made before it can still be
// in force.
type promiseRecord struct {
	leaderID   string
	leaderAddr string
	term       uint64
}

// promiseVersion prefixes the encoded record.
const promiseVersion = 1

func (r promiseRecord) encode() []byte {
	b := []byte{promiseVersion}
	b = binary.AppendUvarint(b, r.term)
	b = binary.AppendUvarint(b, uint64(len(r.leaderID)))
	b = append(b, r.leaderID...)
	b = binary.AppendUvarint(b, uint64(len(r.leaderAddr)))
	return append(b, r.leaderAddr...)
}

var errBadPromise = errors.New("raftsync: malformed promise record")

func decodePromise(b []byte) (promiseRecord, error) {
	var r promiseRecord
	if len(b) == 0 || b[0] != promiseVersion {
		return r, errBadPromise
	}
	b = b[1:]
	term, n := binary.Uvarint(b)
	if n <= 0 {
		return r, errBadPromise
	}
	b = b[n:]
	var strs [2]string
	for i := range strs {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return r, errBadPromise
		}
		strs[i] = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	if len(b) != 0 {
		return r, errBadPromise
	}
	return promiseRecord{leaderID: strs[0], leaderAddr: strs[1], term: term}, nil
}

// promiseLog keeps the promiseRecord in the stable store. A node records
// a leader and term durably before it first promises that leader anything
// in that term, so that after a crash it knows whose lease its promise may
// still protect. One record suffices: a leader of a later term was elected
// by a quorum that meets every quorum of promises to an earlier leader, so
// an earlier leader's lease had ended before a later one existed.
type promiseLog struct {
	stable interface {
		Set(key, val []byte) error
		Get(key []byte) ([]byte, error)
	}
	mu  sync.Mutex
	cur promiseRecord
	ok  bool // cur is what the store holds
}

// load reads the record. present is false for a Dir that never held one:
// a Dir written before records existed, whose promises are unknown.
func (p *promiseLog) load() (rec promiseRecord, present bool, err error) {
	v, err := p.stable.Get(stableKeyPromise)
	if err != nil {
		if errors.Is(err, boltstore.ErrKeyNotFound) {
			return promiseRecord{}, false, nil
		}
		return promiseRecord{}, false, fmt.Errorf("raftsync: reading the promise record: %w", err)
	}
	if len(v) == 0 {
		return promiseRecord{}, false, nil // raft-boltdb returns empty for a missing key in some versions
	}
	rec, err = decodePromise(v)
	if err != nil {
		return promiseRecord{}, false, err
	}
	p.mu.Lock()
	p.cur, p.ok = rec, true
	p.mu.Unlock()
	return rec, true, nil
}

// record makes rec the durable record unless it already is. It returns
// once the store has synced it; on error the caller must not promise.
func (p *promiseLog) record(rec promiseRecord) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ok && p.cur == rec {
		return nil
	}
	if err := p.stable.Set(stableKeyPromise, rec.encode()); err != nil {
		p.ok = false
		return fmt.Errorf("raftsync: recording a promise: %w", err)
	}
	p.cur, p.ok = rec, true
	return nil
}

// clear records that no earlier promise is in force, if the record is
// still old: the promise it names was kept or proved void.
func (p *promiseLog) clear(old promiseRecord) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ok && p.cur != old {
		return nil // a newer promise was recorded meanwhile: it stays
	}
	if err := p.stable.Set(stableKeyPromise, promiseRecord{}.encode()); err != nil {
		p.ok = false
		return fmt.Errorf("raftsync: clearing the promise record: %w", err)
	}
	p.cur, p.ok = promiseRecord{}, true
	return nil
}
