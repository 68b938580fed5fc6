package ruleset

import "testing"

func TestMaxRepresentatives(t *testing.T) {
	t.Parallel()
	tests := []struct {
		set       string
		headCount int
		want      int
	}{
		{"national-2022", 6, 5},
		{"national-2022", 300, 5},
		{"zhejiang-2016", 5, 3},
		{"zhejiang-2016", 10, 3},
		{"zhejiang-2016", 11, 5},
		{"zhejiang-2016", 500, 5},
	}
	for _, tc := range tests {
		r, err := Get(tc.set)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.MaxRepresentatives(tc.headCount); got != tc.want {
			t.Errorf("%s, %d people: %d representatives, want %d", tc.set, tc.headCount, got, tc.want)
		}
	}
	if _, err := Get("atlantis"); err == nil {
		t.Error("unknown rule set accepted")
	}
}
