package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The test binary doubles as a fake etcd peer (see etcd_test.go).
	if os.Getenv(fakePeerEnv) != "" {
		runFakePeer()
		return
	}
	goleak.VerifyTestMain(m)
}
