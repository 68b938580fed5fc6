package roster

import (
	"testing"
	"time"

	"github.com/tongban/tongban/services/county/calendar"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestMondays2026: the county leaders' weekly reception on Mondays in 2026;
// every Monday off is held on the next working day, and 16 February (春节)
// moves past 23 February, so it is held with it on the 24th.
func TestMondays2026(t *testing.T) {
	t.Parallel()
	p := Pattern{Weekday: time.Monday, Start: day("2026-01-01"), End: day("2026-12-31")}
	occ := p.Occurrences(calendar.Official(), day("2026-01-01"), day("2026-12-31"))
	if len(occ) != 51 { // 52 Mondays, one merged
		t.Errorf("%d receptions, want 51", len(occ))
	}
	shifted := map[string]string{}
	for _, o := range occ {
		if o.Shifted() {
			shifted[o.Scheduled.Format(time.DateOnly)] = o.Date.Format(time.DateOnly)
		}
		if o.Date.Weekday() == time.Saturday || o.Date.Weekday() == time.Sunday || o.Provisional {
			t.Errorf("%v", o)
		}
	}
	want := map[string]string{"2026-02-23": "2026-02-24", "2026-04-06": "2026-04-07", "2026-05-04": "2026-05-06", "2026-10-05": "2026-10-08"}
	if len(shifted) != len(want) {
		t.Errorf("shifted %v, want %v", shifted, want)
	}
	for k, v := range want {
		if shifted[k] != v {
			t.Errorf("%s held on %s, want %s", k, shifted[k], v)
		}
	}
}

// TestFirstMondays2026: the big reception (大接访) on the first Monday of
// each month.
func TestFirstMondays2026(t *testing.T) {
	t.Parallel()
	p := Pattern{Monthly: true, Weekday: time.Monday, WeekOfMonth: 1, Start: day("2026-01-01"), End: day("2026-12-31")}
	var got []string
	for _, o := range p.Occurrences(calendar.Official(), day("2026-01-01"), day("2026-12-31")) {
		got = append(got, o.Date.Format("01-02"))
	}
	want := []string{"01-05", "02-02", "03-02", "04-07", "05-06", "06-01", "07-06", "08-03", "09-07", "10-08", "11-02", "12-07"}
	if len(got) != len(want) {
		t.Fatalf("%v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%v, want %v", got, want)
		}
	}
	// Third Wednesdays, and a window that cuts the year.
	p = Pattern{Monthly: true, Weekday: time.Wednesday, WeekOfMonth: 3, Start: day("2026-01-01"), End: day("2026-12-31")}
	occ := p.Occurrences(calendar.Official(), day("2026-11-01"), day("2026-12-31"))
	if len(occ) != 2 || occ[0].Date.Format(time.DateOnly) != "2026-11-18" || occ[1].Date.Format(time.DateOnly) != "2026-12-16" {
		t.Errorf("third Wednesdays: %v", occ)
	}
	// Into 2027, which has no notice yet: flagged.
	p = Pattern{Weekday: time.Monday, Start: day("2027-01-01"), End: day("2027-01-31")}
	for _, o := range p.Occurrences(calendar.Official(), day("2027-01-01"), day("2027-01-31")) {
		if !o.Provisional {
			t.Errorf("%v not provisional", o)
		}
	}
}
