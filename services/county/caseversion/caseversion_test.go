package caseversion

import (
	"testing"

	"github.com/tongban/tongban/services/platform/rpcerr"
	"google.golang.org/grpc/codes"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		etag string
		want Version
		ok   bool
	}{
		{`"1.1"`, Registered, true},
		{`"3.8"`, Version{3, 8}, true},
		{`3.8`, Version{3, 8}, true}, // a body etag typed without its quotes
		{`"12.345"`, Version{12, 345}, true},
		{`"1"`, Version{}, false}, // an etag of one service alone, as before
		{`""`, Version{}, false},
		{`"0.1"`, Version{}, false},
		{`"1.0"`, Version{}, false},
		{`"-1.2"`, Version{}, false},
		{`"01.2"`, Version{}, false},
		{`"1.2.3"`, Version{}, false},
		{`"+1.2"`, Version{}, false},
		{`W/"1.2"`, Version{}, false},
		{`"99999999999999999999.1"`, Version{}, false},
	} {
		got, ok := Parse(tc.etag)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Parse(%s) = %v, %v; want %v, %v", tc.etag, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCheck(t *testing.T) {
	cur := Version{Registration: 2, Moves: 5}
	for _, tc := range []struct {
		name  string
		sent  string
		owner Part
		ok    bool
	}{
		{"no etag", "", Moves, true},
		{"current", `"2.5"`, Moves, true},
		{"current, for intake", `"2.5"`, Registration, true},
		// The other service's part may be behind (its feed lags) or ahead
		// (this one's echo): only the owner's part decides.
		{"moves current, registration behind", `"1.5"`, Moves, true},
		{"registration current, moves behind", `"2.4"`, Registration, true},
		{"moves stale", `"2.4"`, Moves, false},
		{"registration stale", `"1.5"`, Registration, false},
		{"moves ahead", `"2.6"`, Moves, false},
		{"not an etag of ours", `"5"`, Moves, false},
	} {
		err := Check(tc.sent, cur, tc.owner)
		if tc.ok != (err == nil) {
			t.Errorf("%s: Check(%s) = %v", tc.name, tc.sent, err)
		}
		if err != nil && (rpcerr.Code(err) != codes.Aborted || rpcerr.Status(err).Message() == "") {
			t.Errorf("%s: %v, want ABORTED with a message", tc.name, err)
		}
	}
}

func TestEchoNeverGoesBack(t *testing.T) {
	v := Version{Registration: 1, Moves: 7}
	if got := v.Echo(`"3.2"`); got != (Version{3, 7}) {
		t.Errorf("Echo = %v, want the client's newer registration and our moves", got)
	}
	if got := v.Echo("junk"); got != v {
		t.Errorf("Echo(junk) = %v, want %v", got, v)
	}
}

// FuzzParse: whatever Parse accepts, Etag writes back the same.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`"1.1"`, `3.8`, `"1"`, `""`, `"01.2"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := Parse(s)
		if !ok {
			return
		}
		back, ok := Parse(v.Etag())
		if !ok || back != v {
			t.Fatalf("Parse(%q) = %v, but its etag %s reads back as %v", s, v, v.Etag(), back)
		}
	})
}
