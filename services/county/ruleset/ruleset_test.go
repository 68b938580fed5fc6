package ruleset

import (
	"testing"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
)

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

// TestClocksAgree keeps each rule set's clocks in step with the periods
// assignment enforces, and checks that every clock cites its article.
func TestClocksAgree(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"national-2022", "zhejiang-2016"} {
		r, err := Get(name)
		if err != nil {
			t.Fatal(err)
		}
		obj := r.Clocks[assignmentv1.ClockKind_CLOCK_KIND_OBJECTION]
		req := r.Clocks[assignmentv1.ClockKind_CLOCK_KIND_REVIEW_REQUEST]
		if obj.Days != r.ObjectionWorkingDays || !obj.WorkingDays || req.Days != r.NextInstanceDays ||
			r.Clocks[assignmentv1.ClockKind_CLOCK_KIND_HANDLING].Days != r.HandlingDays {
			t.Errorf("%s: clocks disagree with the periods", name)
		}
		for k, c := range r.Clocks {
			if c.Days <= 0 || c.Source == "" {
				t.Errorf("%s %v: %+v", name, k, c)
			}
		}
		if len(r.Clocks) != 8 {
			t.Errorf("%s has %d clocks", name, len(r.Clocks))
		}
	}
	zj, _ := Get("zhejiang-2016")
	if c := zj.Clocks[assignmentv1.ClockKind_CLOCK_KIND_ROUTING]; c.String() != "5个工作日 (浙江省信访条例 第二十条第一款)" {
		t.Errorf("rendered %q", c.String())
	}
}
