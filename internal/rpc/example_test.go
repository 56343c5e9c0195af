package rpc_test

import (
	"context"
	"fmt"
	"net"

	"github.com/raftkit/raftkit/internal/mux"
	"github.com/raftkit/raftkit/internal/rpc"
	"github.com/raftkit/raftkit/internal/wire"
)

// A node serves its RPC on the Mux's KindRPC listener; another node calls
// it. The handler answers StatusRequest and refuses everything else with a
// TypeError frame, which the caller decodes into the expected response.
func Example() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	m := mux.New(ln, nil, nil, mux.Options{})
	defer m.Close()

	srv := rpc.NewServer(m.Listener(mux.KindRPC), func(ctx context.Context, req wire.Frame) wire.Frame {
		var resp wire.Message = &wire.Status{Code: wire.CodeBadRequest, Message: "unsupported " + req.Type.String()}
		if req.Type == wire.TypeStatusRequest {
			resp = &wire.StatusResponse{ID: "n1", State: "Leader", Term: 3}
		}
		f, _ := wire.Encode(0, resp)
		return f
	}, rpc.ServerOptions{})
	go srv.Serve()
	defer srv.Close()

	client := rpc.NewClient(rpc.ClientOptions{})
	defer client.Close()
	ctx := context.Background()

	req, _ := wire.Encode(0, &wire.StatusRequest{})
	f, err := client.Call(ctx, m.Addr().String(), req)
	if err != nil {
		fmt.Println(err)
		return
	}
	var st wire.StatusResponse
	_ = wire.Decode(f, &st)
	fmt.Println(st.Code, st.ID, st.State, st.Term)

	req, _ = wire.Encode(0, &wire.JoinRequest{ID: "n2"})
	f, _ = client.Call(ctx, m.Addr().String(), req)
	var join wire.JoinResponse
	_ = wire.Decode(f, &join)
	fmt.Println(join.Code, join.Message)
	// Output:
	// OK n1 Leader 3
	// BadRequest unsupported JoinRequest
}
