package raftsync

import (
	"reflect"
	"testing"

	"github.com/hashicorp/raft"
)

// Autopilot's membership futures must carry the node's shutdown channel:
// raft can leave a configuration change unanswered, and Close waits for
// autopilot, which waits on the future (a hang seen in full test runs).
func TestPilotRaftBindsMembershipFuturesToShutdown(t *testing.T) {
	conf := raft.DefaultConfig()
	conf.LocalID = "solo"
	conf.Logger = nil
	_, trans := raft.NewInmemTransport("solo")
	store := raft.NewInmemStore()
	r, err := raft.NewRaft(conf, &raft.MockFSM{}, store, store, raft.NewInmemSnapshotStore(), trans)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Shutdown().Error() }()

	shutdown := make(chan struct{})
	pr := pilotRaft{Raft: r, shutdown: shutdown}
	calls := map[string]func() raft.IndexFuture{
		"AddVoter":     func() raft.IndexFuture { return pr.AddVoter("x", "x", 0, 0) },
		"AddNonvoter":  func() raft.IndexFuture { return pr.AddNonvoter("x", "x", 0, 0) },
		"DemoteVoter":  func() raft.IndexFuture { return pr.DemoteVoter("x", 0, 0) },
		"RemoveServer": func() raft.IndexFuture { return pr.RemoveServer("x", 0, 0) },
	}
	for name, call := range calls {
		f := call()
		v := reflect.ValueOf(f)
		if v.Kind() != reflect.Pointer {
			t.Fatalf("%s: future %T is not raft's configuration future", name, f)
		}
		idx := shutdownChField(v.Elem().Type())
		if idx == nil {
			t.Fatalf("%s: future %T has no ShutdownCh", name, f)
		}
		if got := v.Elem().FieldByIndex(idx).Interface().(chan struct{}); got != shutdown {
			t.Errorf("%s: future's ShutdownCh is not the node's shutdown channel", name)
		}
		if err := f.Error(); err == nil {
			t.Errorf("%s on a follower with no leader succeeded", name)
		}
	}
}
