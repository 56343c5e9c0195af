package consistency

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestZeroLevelIsStrong(t *testing.T) {
	var l Level
	if l != Strong {
		t.Fatalf("zero Level = %v, want strong", l)
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    Level
		wantErr bool
	}{
		{in: "strong", want: Strong},
		{in: "Strong", want: Strong},
		{in: "LEASE", want: Lease},
		{in: "lease", want: Lease},
		{in: "sTaLe", want: Stale},
		{in: "", wantErr: true},
		{in: " stale", wantErr: true},
		{in: "eventual", wantErr: true},
		{in: "strong\x00", wantErr: true},
		{in: "0", wantErr: true},
		{in: strings.Repeat("x", 10000), wantErr: true},
	}
	for _, tt := range tests {
		name := tt.in
		if len(name) > 20 {
			name = name[:20]
		}
		t.Run(name, func(t *testing.T) {
			got, err := ParseLevel(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrUnknownLevel) {
					t.Fatalf("ParseLevel(%q) err = %v, want ErrUnknownLevel", tt.in, err)
				}
				if !strings.Contains(err.Error(), "strong, lease, stale") {
					t.Errorf("error %q does not list the valid names", err)
				}
				if len(err.Error()) > 200 {
					t.Errorf("error is %d bytes long; bad input must be truncated", len(err.Error()))
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseLevel(%q) = %v, %v; want %v, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestLevelString(t *testing.T) {
	tests := []struct {
		l    Level
		want string
	}{
		{Strong, "strong"}, {Lease, "lease"}, {Stale, "stale"},
		{Level(7), "Level(7)"}, {Level(-1), "Level(-1)"},
	}
	for _, tt := range tests {
		if got := tt.l.String(); got != tt.want {
			t.Errorf("Level(%d).String() = %q, want %q", int(tt.l), got, tt.want)
		}
	}
}

func TestLevelTextRoundTrip(t *testing.T) {
	for _, l := range Levels() {
		t.Run(l.String(), func(t *testing.T) {
			text, err := l.MarshalText()
			if err != nil {
				t.Fatalf("MarshalText: %v", err)
			}
			var back Level = Stale + 1 // deliberately not l
			if err := back.UnmarshalText(text); err != nil || back != l {
				t.Fatalf("UnmarshalText(%q) = %v, %v; want %v", text, back, err, l)
			}
			// Through encoding/json, which uses the text methods.
			js, err := json.Marshal(struct{ L Level }{l})
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			var v struct{ L Level }
			if err := json.Unmarshal(js, &v); err != nil || v.L != l {
				t.Fatalf("json round trip of %s = %v, %v (json %s)", l, v.L, err, js)
			}
		})
	}
}

func TestLevelTextBadInput(t *testing.T) {
	if _, err := Level(9).MarshalText(); !errors.Is(err, ErrUnknownLevel) {
		t.Errorf("MarshalText of Level(9) err = %v, want ErrUnknownLevel", err)
	}
	l := Lease
	if err := l.UnmarshalText([]byte("bogus")); !errors.Is(err, ErrUnknownLevel) {
		t.Errorf("UnmarshalText(bogus) err = %v, want ErrUnknownLevel", err)
	}
	if l != Lease {
		t.Errorf("failed UnmarshalText changed the level to %v", l)
	}
}
