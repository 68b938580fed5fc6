package textnorm

import (
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"  小区雨污管网破损 ", "小区雨污管网破损"},
		{"\u3000\u3000管网\u3000", "管网"},         // ideographic spaces
		{"\u200b\u200c\u200d\ufeff\u2060", ""}, // format characters only
		{"\u3000 \t\n\u200b", ""},              // nothing but blanks
		{"e\u0301", "\u00e9"},                  // NFC: one code point
		{"管\u200b网", "管\u200b网"},               // inside the text it stays
		{"\u00a0\u2028路灯\u2029\u205f", "路灯"},   // no-break, line and paragraph separators
	} {
		if got := Clean(tc.in); got != tc.want {
			t.Errorf("Clean(%+q) = %+q, want %+q", tc.in, got, tc.want)
		}
	}
}

func FuzzClean(f *testing.F) {
	f.Add("\u3000管网\u200b")
	f.Fuzz(func(t *testing.T, s string) {
		got := Clean(s)
		if Clean(got) != got {
			t.Fatalf("Clean is not idempotent on %+q", s)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Clean(%+q) is not UTF-8", s)
		}
	})
}
