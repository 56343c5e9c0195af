package raftsync_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
)

// errConflict is an application sentinel registered in Config.ApplyErrors.
var errConflict = errors.New("kv: version conflict")

type point struct{ X, Y int }

type binaryAnswer struct{}

func (binaryAnswer) MarshalBinary() ([]byte, error) { return []byte("marshalled"), nil }

// answersKV answers "answer-*" commands with one value of each kind an FSM
// may return, and applies every other command to its KV.
type answersKV struct{ *testcluster.KV }

func (k answersKV) Apply(l *raft.Log) interface{} {
	switch string(l.Data) {
	case "answer-int":
		return 4
	case "answer-string":
		return "four"
	case "answer-bytes":
		return []byte("4")
	case "answer-nil":
		return nil
	case "answer-marshaler":
		return binaryAnswer{}
	case "answer-struct":
		return point{1, 2}
	case "answer-registered-error":
		return fmt.Errorf("key k at version 3: %w", errConflict)
	case "answer-plain-error":
		return errors.New("kv: disk quota")
	}
	return k.KV.Apply(l)
}

// TestApplyAnswersTheSameOnEveryNode applies every kind of FSM answer on
// the leader and through a follower: the Response must have the same Go
// type and value, and an FSM error the same type, text and sentinel,
// whichever node ran Apply.
func TestApplyAnswersTheSameOnEveryNode(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{
		NewFSM:    func(int) raft.FSM { return answersKV{testcluster.NewKV()} },
		Configure: func(_ int, cfg *raftsync.Config) { cfg.ApplyErrors = []error{errConflict} },
	})
	cases := []struct {
		cmd      string
		response any   // with a nil error
		sentinel error // for an FSM error: what it must unwrap to (nil: nothing)
		errText  string
	}{
		{cmd: "answer-int", response: "4"},
		{cmd: "answer-string", response: "four"},
		{cmd: "answer-bytes", response: []byte("4")},
		{cmd: "answer-nil", response: nil},
		{cmd: "answer-marshaler", response: []byte("marshalled")},
		{cmd: "answer-struct", response: "{1 2}"},
		{cmd: "answer-registered-error", sentinel: errConflict, errText: "key k at version 3: kv: version conflict"},
		{cmd: "answer-plain-error", errText: "kv: disk quota"},
	}
	for _, tc := range cases {
		t.Run(tc.cmd, func(t *testing.T) {
			for _, m := range []*testcluster.Member{c.Leader(), c.Followers()[0]} {
				res, err := m.Node.Apply(ctxTimeout(t, 10*time.Second), []byte(tc.cmd))
				if res.Index == 0 {
					t.Fatalf("via %s: no index (err %v)", m.ID, err)
				}
				if tc.errText == "" {
					if err != nil {
						t.Fatalf("via %s: error %v", m.ID, err)
					}
					if !reflect.DeepEqual(res.Response, tc.response) {
						t.Fatalf("via %s: Response %#v (%T), want %#v (%T)", m.ID, res.Response, res.Response, tc.response, tc.response)
					}
					continue
				}
				var ae *raftsync.ApplyError
				if !errors.As(err, &ae) {
					t.Fatalf("via %s: error %v (%T), want an *ApplyError", m.ID, err, err)
				}
				if ae.Index != res.Index || err.Error() != tc.errText || res.Response != nil {
					t.Fatalf("via %s: error %q at %d (result %+v), want %q at the result's index", m.ID, err, ae.Index, res, tc.errText)
				}
				if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
					t.Fatalf("via %s: error %q does not unwrap to %v", m.ID, err, tc.sentinel)
				}
				if tc.sentinel == nil && errors.Unwrap(err) != nil {
					t.Fatalf("via %s: unregistered error %q unwraps to %v", m.ID, err, errors.Unwrap(err))
				}
			}
		})
	}
}
