package raftsync_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/raftsync"
)

// ErrSoldOut is an application error its FSM returns, registered in
// Config.ApplyErrors so that callers can test for it on every node.
var ErrSoldOut = errors.New("tickets: sold out")

// tickets sells a fixed number of tickets; each command buys one.
type tickets struct{ left int }

func (t *tickets) Apply(*raft.Log) interface{} {
	if t.left == 0 {
		return fmt.Errorf("no ticket left for you: %w", ErrSoldOut)
	}
	t.left--
	return t.left // an int: Apply returns it as "1", "0" on every node
}

func (t *tickets) Snapshot() (raft.FSMSnapshot, error) { return nil, errors.New("not in this example") }
func (t *tickets) Restore(rc io.ReadCloser) error      { return rc.Close() }

// ExampleNode_Apply shows the one answer Apply gives on every node: the
// FSM's response through the default ResponseCodec (an int arrives as its
// string), and an FSM error as an *ApplyError that unwraps to the
// sentinel registered in Config.ApplyErrors.
func ExampleNode_Apply() {
	dir, _ := os.MkdirTemp("", "raftsync-example-")
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	node, err := raftsync.Open(ctx, raftsync.Config{
		ID:          "node1",
		Dir:         dir,
		Addr:        "127.0.0.1:0",
		Bootstrap:   true,
		Logger:      hclog.NewNullLogger(),
		ApplyErrors: []error{ErrSoldOut},
	}, &tickets{left: 2})
	if err != nil {
		fmt.Println("open:", err)
		return
	}
	defer node.Close()
	if err := node.WaitReady(ctx); err != nil {
		fmt.Println("not ready:", err)
		return
	}
	for range 3 {
		res, err := node.Apply(ctx, []byte("buy"))
		var ae *raftsync.ApplyError
		switch {
		case errors.Is(err, ErrSoldOut) && errors.As(err, &ae):
			fmt.Printf("refused: %v (the command is committed: index given %v)\n", err, ae.Index == res.Index && res.Index > 0)
		case err != nil:
			fmt.Println("apply:", err)
			return
		default:
			fmt.Printf("bought; left: %q (%T)\n", res.Response, res.Response)
		}
	}
	// Output:
	// bought; left: "1" (string)
	// bought; left: "0" (string)
	// refused: no ticket left for you: tickets: sold out (the command is committed: index given true)
}
