package raftsync_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
)

// responseKV answers special commands with responses that cannot cross the
// node RPC, and applies every command to its KV as well, so a test can see
// that the command took effect everywhere.
type responseKV struct{ *testcluster.KV }

// Commands responseKV answers specially; each is applied as a Set of the
// key "answered" to the command's name.
const (
	cmdHugeResponse    = "huge-response"
	cmdPanicMarshal    = "panic-marshal"
	cmdFailingMarshal  = "failing-marshal"
	hugeResponseLength = 256 << 10
)

type panickingMarshaler struct{}

func (panickingMarshaler) MarshalBinary() ([]byte, error) { panic("MarshalBinary exploded") }

type failingMarshaler struct{}

func (failingMarshaler) MarshalBinary() ([]byte, error) { return nil, errors.New("cannot encode") }

func (k responseKV) Apply(l *raft.Log) interface{} {
	var resp any
	switch string(l.Data) {
	case cmdHugeResponse:
		resp = bytes.Repeat([]byte{'r'}, hugeResponseLength)
	case cmdPanicMarshal:
		resp = panickingMarshaler{}
	case cmdFailingMarshal:
		resp = failingMarshaler{}
	default:
		return k.KV.Apply(l)
	}
	k.KV.Apply(&raft.Log{Index: l.Index, Term: l.Term, Type: l.Type, Data: testcluster.Set("answered-"+string(l.Data), "yes")})
	return resp
}

// TestForwardedApplyWhoseResponseCannotReturnReportsTheCommit checks every
// way the leader can fail to send back the response of a command it has
// committed: the caller must learn that the write is committed, and at
// which index, never that nothing was applied (ErrTooLarge) nor a bare
// remote error. (Before the fix: ErrTooLarge for the huge response, a
// "remote error (Internal)" for the panic, and an *ApplyError for the
// failing MarshalBinary, which claims the FSM refused the command.)
func TestForwardedApplyWhoseResponseCannotReturnReportsTheCommit(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{
		NewFSM:    func(int) raft.FSM { return responseKV{testcluster.NewKV()} },
		Configure: func(_ int, cfg *raftsync.Config) { cfg.MaxCommandSize = 1024 },
	})
	for _, cmd := range []string{cmdHugeResponse, cmdPanicMarshal, cmdFailingMarshal} {
		t.Run(cmd, func(t *testing.T) {
			follower := c.Followers()[0]
			res, err := follower.Node.Apply(ctxTimeout(t, 10*time.Second), []byte(cmd))
			if !errors.Is(err, raftsync.ErrCommittedNoResponse) {
				t.Fatalf("Apply = %+v, %v; want ErrCommittedNoResponse", res, err)
			}
			for _, wrong := range []error{raftsync.ErrTooLarge, raftsync.ErrIndeterminate} {
				if errors.Is(err, wrong) {
					t.Fatalf("Apply error %v also wraps %v", err, wrong)
				}
			}
			if res.Index == 0 || res.Response != nil {
				t.Fatalf("Apply result %+v: want the command's index and no response", res)
			}
			// The write is committed at that index on every node.
			waitConverged(t, c, res.Index)
			for _, m := range c.Running() {
				if v, _ := m.KV().Get("answered-" + cmd); v != "yes" {
					t.Fatalf("%s does not hold the write acknowledged at index %d", m.ID, res.Index)
				}
			}
		})
	}
	// The leader's own Apply returns the response itself (nothing crosses
	// the network), and the cluster keeps working.
	res, err := c.Leader().Node.Apply(ctxTimeout(t, 10*time.Second), []byte(cmdHugeResponse))
	if err != nil || len(res.Response.([]byte)) != hugeResponseLength {
		t.Fatalf("leader Apply = %v (response %T), want the %d-byte response", err, res.Response, hugeResponseLength)
	}
	waitConverged(t, c, mustApply(t, c.Followers()[0], testcluster.Set("after", "x")))
}
