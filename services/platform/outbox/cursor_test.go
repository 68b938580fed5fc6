package outbox

import "testing"

func TestCursorOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b  string
		after bool
	}{
		{"1216.3", "999.19", true}, // numeric, not textual, order
		{"999.19", "1216.3", false},
		{"1000.20", "1000.3", true},
		{"1000.3", "1000.3", false},
		{"1.1", "", true},
	}
	for _, tc := range tests {
		a, err := ParseCursor(tc.a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ParseCursor(tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.After(b); got != tc.after {
			t.Errorf("%q after %q = %v, want %v", tc.a, tc.b, got, tc.after)
		}
	}
	for _, bad := range []string{"x", "1", "1.", ".1", "1.-2", "-1.2", "1.2.3"} {
		if _, err := ParseCursor(bad); err == nil {
			t.Errorf("ParseCursor(%q) accepted", bad)
		}
	}
}

func FuzzParseCursor(f *testing.F) {
	f.Add("1216.3")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s)
		if err != nil {
			return
		}
		back, err := ParseCursor(c.String())
		if err != nil || back != c {
			t.Fatalf("%q → %v → %q → %v, %v", s, c, c.String(), back, err)
		}
	})
}
