package raftsync

import (
	"errors"
	"testing"
)

func TestPromiseRecordRoundTrip(t *testing.T) {
	for _, rec := range []promiseRecord{
		{},
		{leaderID: "node0", leaderAddr: "127.0.0.1:7000", term: 42},
		{leaderID: "n", term: 1 << 62},
	} {
		got, err := decodePromise(rec.encode())
		if err != nil || got != rec {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", rec, got, err)
		}
	}
}

func TestPromiseRecordRejectsMalformed(t *testing.T) {
	good := promiseRecord{leaderID: "node0", leaderAddr: "a:1", term: 3}.encode()
	cases := map[string][]byte{
		"empty":         nil,
		"version":       append([]byte{9}, good[1:]...),
		"truncated":     good[:len(good)-1],
		"trailing":      append(append([]byte{}, good...), 0),
		"huge length":   {promiseVersion, 3, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"no term":       {promiseVersion},
		"only term":     {promiseVersion, 3},
		"bad varint":    {promiseVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"second string": {promiseVersion, 3, 1, 'a', 5, 'b'},
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := decodePromise(b); !errors.Is(err, errBadPromise) {
				t.Fatalf("decodePromise(%x) = %v, want errBadPromise", b, err)
			}
		})
	}
}
