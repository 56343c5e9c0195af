package faultsuite

import (
	"flag"
	"testing"

	"go.uber.org/goleak"
)

var (
	flagSeed     = flag.Int64("faultsuite.seed", 0, "TestReplay: run the schedule of this seed")
	flagCampaign = flag.Int("faultsuite.campaign", 0, "TestCampaign: run this many schedules")
	flagFirst    = flag.Int64("faultsuite.first", 1000, "TestCampaign: the first seed; seeds follow consecutively")
	flagResults  = flag.String("faultsuite.results", "", "TestCampaign: append one JSON line per schedule to this file")
	flagOut      = flag.String("faultsuite.out", "", "write porcupine visualizations of failing histories to this directory")
	flagNemeses  = flag.Bool("faultsuite.nemeses", false, "TestNemesisSchedules: replay the nemesis seeds")
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
