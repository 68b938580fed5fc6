package calendar

import (
	"testing"
	"time"
)

func TestDay(t *testing.T) {
	t.Parallel()
	c := Official()
	tests := []struct {
		date        string
		kind        Kind
		holiday     string
		working     bool
		provisional bool
	}{
		{"2025-01-01", Holiday, "元旦", false, false},
		{"2025-01-26", MakeupWorkday, "春节", true, false}, // a Sunday worked
		{"2025-01-28", Holiday, "春节", false, false},
		{"2025-02-08", MakeupWorkday, "春节", true, false}, // a Saturday worked
		{"2025-10-08", Holiday, "国庆节、中秋节", false, false},
		{"2025-10-11", MakeupWorkday, "国庆节、中秋节", true, false},
		{"2026-01-04", MakeupWorkday, "元旦", true, false},
		{"2026-02-23", Holiday, "春节", false, false},
		{"2026-02-28", MakeupWorkday, "春节", true, false},
		{"2026-05-09", MakeupWorkday, "劳动节", true, false},
		{"2026-09-20", MakeupWorkday, "国庆节", true, false},
		{"2026-10-07", Holiday, "国庆节", false, false},
		{"2026-11-23", Workday, "", true, false},  // a Monday
		{"2026-11-22", Weekend, "", false, false}, // a Sunday
		{"2027-01-01", Workday, "", true, true},   // no 2027 notice yet: flagged
	}
	for _, tc := range tests {
		d, err := time.Parse(time.DateOnly, tc.date)
		if err != nil {
			t.Fatal(err)
		}
		got := c.Day(d)
		if got.Kind != tc.kind || got.Holiday != tc.holiday || got.Working() != tc.working || got.Provisional != tc.provisional {
			t.Errorf("Day(%s) = %+v (working %v), want kind %v holiday %q working %v provisional %v",
				tc.date, got, got.Working(), tc.kind, tc.holiday, tc.working, tc.provisional)
		}
	}
}

// TestCounts pins the size of each year's notice (regulation.md §6:
// 2025 has 28 holiday dates and 5 make-up days, 2026 has 33 and 6).
func TestCounts(t *testing.T) {
	t.Parallel()
	c := Official()
	count := map[int]map[Kind]int{}
	for _, d := range c.special {
		if count[d.Date.Year()] == nil {
			count[d.Date.Year()] = map[Kind]int{}
		}
		count[d.Date.Year()][d.Kind]++
	}
	want := map[int][2]int{2025: {28, 5}, 2026: {33, 6}}
	for y, w := range want {
		if count[y][Holiday] != w[0] || count[y][MakeupWorkday] != w[1] {
			t.Errorf("%d: %d holidays and %d make-up days, want %d and %d", y, count[y][Holiday], count[y][MakeupWorkday], w[0], w[1])
		}
	}
}
