package testlog

import (
	"errors"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestRecorderCountsByLevel(t *testing.T) {
	r := New(t)
	log := r.Logger("n1").Named("raft")
	log.Debug("dropped at Info")
	log.Info("started", "id", "n1")
	mark := r.Mark()
	log.Warn("slow", "peer", "n2")
	log.Error("failed", "error", errors.New("boom"))
	log.Error("failed again")

	all := r.Lines()
	if len(all) != 4 || Count(all, hclog.Debug) != 0 || Count(all, hclog.Info) != 1 {
		t.Fatalf("recorded %s", Summary(all))
	}
	since := r.Since(mark)
	if Count(since, hclog.Warn) != 1 || Count(since, hclog.Error) != 2 || len(AtLeast(since, hclog.Warn)) != 3 {
		t.Fatalf("since mark: %s", Summary(since))
	}
	l := since[1]
	if l.Name != "n1.raft" || l.Message != "failed" || l.Fields["error"] != "boom" {
		t.Fatalf("line %+v", l)
	}
}
