package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestParseRequest(t *testing.T) {
	good := []string{
		`{"op":"start","dir":"/tmp/x"}`,
		`{"op":"writes","conc":1,"on":"leader","size":100,"duration_ms":10}`,
		`{"op":"reads","conc":64,"on":"follower","mode":"serializable","duration_ms":10,"warmup_ms":5}`,
		`{"op":"join","bytes":0,"value_size":1024}`,
		`{"op":"stop"}`,
	}
	for _, s := range good {
		if _, err := parseRequest([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := []string{
		`not json`,
		`{"op":"start"}`,
		`{"op":"writes","conc":0,"on":"leader","size":100,"duration_ms":10}`,
		`{"op":"writes","conc":1,"on":"middle","size":100,"duration_ms":10}`,
		`{"op":"writes","conc":1,"on":"leader","size":1,"duration_ms":10}`,
		`{"op":"writes","conc":1,"on":"leader","size":100,"duration_ms":0}`,
		`{"op":"reads","conc":1,"on":"leader","mode":"eventual","duration_ms":10}`,
		`{"op":"join","bytes":-1,"value_size":1024}`,
		`{"op":"explode"}`,
	}
	for _, s := range bad {
		if _, err := parseRequest([]byte(s)); !errors.Is(err, errBadRequest) {
			t.Errorf("%s: got %v, want errBadRequest", s, err)
		}
	}
}

func TestRunLoad(t *testing.T) {
	boom := errors.New("boom")
	res := runLoad(context.Background(), 3, 10*time.Millisecond, 30*time.Millisecond, func(ctx context.Context, w, i int) error {
		if w == 0 && i%2 == 1 {
			return boom
		}
		return nil
	})
	if res.Ops == 0 || res.Errors == 0 || res.FirstError != "boom" || res.ElapsedNs != int64(30*time.Millisecond) {
		t.Fatalf("result %+v", res)
	}
}

// TestProtocolAgainstEtcd starts a real three-member etcd cluster through
// the protocol, runs short loads and a join, and stops it.
func TestProtocolAgainstEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd")
	}
	dir := t.TempDir()
	reqs := []string{
		`{"op":"writes","conc":2,"on":"leader","size":100,"duration_ms":50}`,
		`{"op":"start","dir":"` + dir + `"}`,
		`{"op":"start","dir":"` + dir + `"}`,
		`{"op":"writes","conc":2,"on":"follower","size":100,"warmup_ms":10,"duration_ms":100}`,
		`{"op":"reads","conc":2,"on":"follower","mode":"linearizable","duration_ms":100}`,
		`{"op":"reads","conc":2,"on":"leader","mode":"serializable","duration_ms":100}`,
		`{"op":"join","bytes":102400,"value_size":10240}`,
		`{"op":"bogus"}`,
		`{"op":"stop"}`,
	}
	var out bytes.Buffer
	p := &peer{}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err := p.serve(ctx, strings.NewReader(strings.Join(reqs, "\n")+"\n"), &out)
	p.stop()
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&out)
	var resps []Response
	for dec.More() {
		var r Response
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		resps = append(resps, r)
	}
	if len(resps) != len(reqs) {
		t.Fatalf("%d responses to %d requests", len(resps), len(reqs))
	}
	wantOK := []bool{false, true, false, true, true, true, true, false, true}
	for i, r := range resps {
		if r.OK != wantOK[i] {
			t.Errorf("request %d (%s): ok=%v error=%q", i, reqs[i], r.OK, r.Error)
		}
	}
	for _, i := range []int{3, 4, 5} {
		if res := resps[i].Result; res == nil || res.Ops == 0 || res.Errors != 0 || res.P50Ns <= 0 {
			t.Errorf("request %d: result %+v", i, resps[i].Result)
		}
	}
	if res := resps[6].Result; res == nil || res.ElapsedNs <= 0 {
		t.Errorf("join: result %+v", res)
	}
}
