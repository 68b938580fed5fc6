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
		// No 2027 notice yet: flagged, the fixed-date statutory days off
		// (全国年节及纪念日放假办法) known, the bridges not.
		{"2027-01-01", Holiday, "元旦", false, true},
		{"2027-05-01", Holiday, "劳动节", false, true},
		{"2027-05-03", Workday, "", true, true}, // a Monday: a bridge only the notice can make
		{"2027-10-03", Holiday, "国庆节", false, true},
		{"2027-10-04", Workday, "", true, true},
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
		{"into a year without a notice", func() (time.Time, bool) { return c.AddWorkingDays(at("2026-12-30 09:00"), 3) }, "2027-01-05", true}, // over 元旦 2027
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

// TestEveryDayOf2025And2026 checks each holiday and make-up working day of
// the two notices, typed from the notices (regulation.md §6), not read
// from the data file.
func TestEveryDayOf2025And2026(t *testing.T) {
	t.Parallel()
	c := Official()
	span := func(from string, n int) []string {
		d, _ := time.Parse(time.DateOnly, from)
		var out []string
		for i := range n {
			out = append(out, d.AddDate(0, 0, i).Format(time.DateOnly))
		}
		return out
	}
	var holidays []string
	for _, sp := range []struct {
		from string
		n    int
	}{
		{"2025-01-01", 1}, {"2025-01-28", 8}, {"2025-04-04", 3}, {"2025-05-01", 5}, {"2025-05-31", 3}, {"2025-10-01", 8},
		{"2026-01-01", 3}, {"2026-02-15", 9}, {"2026-04-04", 3}, {"2026-05-01", 5}, {"2026-06-19", 3}, {"2026-09-25", 3}, {"2026-10-01", 7},
	} {
		holidays = append(holidays, span(sp.from, sp.n)...)
	}
	makeup := []string{"2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11",
		"2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"}
	for _, s := range holidays {
		d, _ := time.Parse(time.DateOnly, s)
		if got := c.Day(d); got.Kind != Holiday || got.Working() || got.Provisional {
			t.Errorf("%s: %+v, want a holiday", s, got)
		}
	}
	for _, s := range makeup {
		d, _ := time.Parse(time.DateOnly, s)
		if got := c.Day(d); got.Kind != MakeupWorkday || !got.Working() {
			t.Errorf("%s: %+v, want a make-up working day", s, got)
		}
	}
	if len(holidays) != 28+33 {
		t.Fatalf("typed %d holidays, want 61", len(holidays))
	}
	if c.LastYear() != 2026 {
		t.Errorf("LastYear = %d", c.LastYear())
	}
	for _, y := range []int{2020, 2021, 2022, 2023, 2024} {
		if d := c.Day(time.Date(y, 10, 2, 0, 0, 0, 0, time.UTC)); d.Kind != Holiday || d.Provisional {
			t.Errorf("%d-10-02: %+v, want a holiday from the data", y, d)
		}
	}
}

func TestLocalRestDays(t *testing.T) {
	t.Parallel()
	c, err := Official().WithLocalRestDays(map[string]string{"2026-11-25": "台风停工", "2026-10-01": "国庆"})
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Day(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)); d.Kind != LocalRestDay || d.Working() {
		t.Errorf("local day off: %+v", d)
	}
	if d := c.Day(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)); d.Kind != Holiday {
		t.Errorf("a holiday stays a holiday: %+v", d)
	}
	// Monday 23 Nov + 3 working days skips Wednesday 25.
	if due, _ := c.AddWorkingDays(time.Date(2026, 11, 23, 10, 0, 0, 0, China), 3); due.Format(time.DateOnly) != "2026-11-27" {
		t.Errorf("due %s", due.Format(time.DateOnly))
	}
	if Official().Day(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)).Kind != Workday {
		t.Error("WithLocalRestDays changed the calendar it copied")
	}
	if _, err := Official().WithLocalRestDays(map[string]string{"25/11/2026": "x"}); err == nil {
		t.Error("a bad date was accepted")
	}
}

// FuzzArithmetic checks the laws of the period arithmetic for any start
// (2020-2028, so provisional years are covered) and length.
func FuzzArithmetic(f *testing.F) {
	c := Official()
	f.Add(int64(0), uint8(5))
	f.Add(int64(2500*24*3600), uint8(30))
	f.Add(int64(2470*24*3600), uint8(1))
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, China)
	f.Fuzz(func(t *testing.T, offset int64, n uint8) {
		if offset < 0 || offset > 9*365*24*3600 {
			t.Skip()
		}
		from := start.Add(time.Duration(offset) * time.Second)
		days := int(n%90) + 1
		due, _ := c.AddWorkingDays(from, days)
		if !c.Day(due).Working() || !due.After(DateOf(from)) {
			t.Fatalf("AddWorkingDays(%v, %d) = %v: not a working day after the start", from, days, due)
		}
		count := 0
		for d := DateOf(from).AddDate(0, 0, 1); !d.After(due); d = d.AddDate(0, 0, 1) {
			if c.Day(d).Working() {
				count++
			}
		}
		if count != days {
			t.Fatalf("AddWorkingDays(%v, %d) = %v spans %d working days", from, days, due, count)
		}
		plain, _ := c.AddDays(from, days, false)
		if plain != DateOf(from).AddDate(0, 0, days) {
			t.Fatalf("AddDays without roll-over = %v", plain)
		}
		rolled, _ := c.AddDays(from, days, true)
		if rolled.Before(plain) || !c.Day(rolled).Working() {
			t.Fatalf("AddDays(%v, %d, roll) = %v", from, days, rolled)
		}
		for d := plain; d.Before(rolled); d = d.AddDate(0, 0, 1) {
			if c.Day(d).Working() {
				t.Fatalf("AddDays(%v, %d, roll) = %v skips the working day %v", from, days, rolled, d)
			}
		}
		if next, _ := c.NextWorkingDay(from); next != func() time.Time { d, _ := c.AddWorkingDays(from, 1); return d }() {
			t.Fatalf("NextWorkingDay(%v) = %v", from, next)
		}
	})
}

func TestWorkingDaysBefore(t *testing.T) {
	t.Parallel()
	c := Official()
	for _, tc := range []struct {
		date string
		n    int
		want string
	}{
		{"2026-10-09", 3, "2026-09-29"}, // back over 国庆 (1–7 Oct) to Tuesday
		{"2026-11-27", 3, "2026-11-24"},
		{"2026-11-30", 1, "2026-11-27"}, // over a weekend
		{"2026-11-30", 0, "2026-11-30"},
	} {
		d, _ := time.Parse(time.DateOnly, tc.date)
		if got := c.WorkingDaysBefore(d, tc.n).Format(time.DateOnly); got != tc.want {
			t.Errorf("WorkingDaysBefore(%s, %d) = %s, want %s", tc.date, tc.n, got, tc.want)
		}
	}
}
