package wire_test

import (
	"bufio"
	"bytes"
	"fmt"

	"github.com/raftkit/raftkit/internal/wire"
)

// A follower forwards a command to the leader and reads the answer. Here
// the "connection" is a buffer and the leader's answer is an error frame,
// which Decode folds into the expected response's Status.
func Example() {
	var conn bytes.Buffer

	req, _ := wire.Encode(42, &wire.ApplyRequest{Command: []byte("set color blue")})
	_ = wire.WriteFrame(&conn, req)

	in, _ := wire.ReadFrame(bufio.NewReader(&conn), 1<<20)
	var got wire.ApplyRequest
	_ = wire.Decode(in, &got)
	fmt.Printf("leader got %v #%d: %q\n", in.Type, in.ID, got.Command)

	answer, _ := wire.Encode(in.ID, &wire.Status{Code: wire.CodeNotLeader, LeaderAddr: "10.0.0.2:7000"})
	var resp wire.ApplyResponse
	if err := wire.Decode(answer, &resp); err != nil {
		fmt.Println(err)
	}
	fmt.Println(resp.Code, resp.Status.LeaderAddr)
	// Output:
	// leader got ApplyRequest #42: "set color blue"
	// NotLeader 10.0.0.2:7000
}
