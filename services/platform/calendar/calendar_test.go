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

func TestPeriods(t *testing.T) {
	t.Parallel()
	c := Official()
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, China)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name        string
		got         func() (time.Time, bool)
		want        string
		provisional bool
	}{
		// Tuesday 2026-09-29 + 5 working days: 30 Sep, then the National Day
		// holiday (1–7 Oct), 8, 9 Oct, Saturday 10 Oct (调休), 12 Oct.
		{"5 working days over 国庆", func() (time.Time, bool) { return c.AddWorkingDays(at("2026-09-29 10:00"), 5) }, "2026-10-12", false},
		{"5 working days over a weekend", func() (time.Time, bool) { return c.AddWorkingDays(at("2026-11-20 16:00"), 5) }, "2026-11-27", false},
		{"late evening counts as that day in China", func() (time.Time, bool) {
			return c.AddWorkingDays(time.Date(2026, 11, 19, 17, 0, 0, 0, time.UTC), 1) // 01:00 on the 20th in China
		}, "2026-11-23", false},
		{"into a year without a notice", func() (time.Time, bool) { return c.AddWorkingDays(at("2026-12-30 09:00"), 3) }, "2027-01-04", true},
		{"30 days, ends on a working day", func() (time.Time, bool) { return c.AddDays(at("2026-11-02 09:00"), 30, true) }, "2026-12-02", false},
		{"30 days ending in 国庆, rolled over", func() (time.Time, bool) { return c.AddDays(at("2026-09-03 09:00"), 30, true) }, "2026-10-08", false},
		{"30 days ending in 国庆, no roll-over", func() (time.Time, bool) { return c.AddDays(at("2026-09-03 09:00"), 30, false) }, "2026-10-03", false},
	}
	for _, tt := range tests {
		got, prov := tt.got()
		if got.Format(time.DateOnly) != tt.want || prov != tt.provisional {
			t.Errorf("%s: %s (provisional %v), want %s (%v)", tt.name, got.Format(time.DateOnly), prov, tt.want, tt.provisional)
		}
	}
	if end := EndOfDay(time.Date(2026, 10, 8, 0, 0, 0, 0, time.UTC)); end.In(China).Format("2006-01-02 15:04:05") != "2026-10-08 23:59:59" {
		t.Errorf("EndOfDay: %v", end.In(China))
	}
}
