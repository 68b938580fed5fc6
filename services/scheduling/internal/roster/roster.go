// Package roster expands reception rosters (领导接待日) into dates: every
// week or the n-th weekday of every month, each date on a day off moved to
// the next working day (节假日顺推). A moved date that reaches the next
// date of the pattern is held with it, not twice.
package roster

import (
	"time"

	"github.com/tongban/tongban/services/county/calendar"
)

// Pattern is a roster's recurrence.
type Pattern struct {
	Monthly     bool         // else weekly
	Weekday     time.Weekday // the day of the week
	WeekOfMonth int          // for Monthly: 1 … 4
	Start, End  time.Time    // dates (midnight UTC), inclusive
}

// Occurrence is one reception.
type Occurrence struct {
	Scheduled   time.Time // the date the pattern gives
	Date        time.Time // the date it is held
	Provisional bool      // the date rests on a year without a notice
}

// Shifted reports whether the reception moved off a day off.
func (o Occurrence) Shifted() bool { return !o.Date.Equal(o.Scheduled) }

// scheduled lists the pattern's dates from start to end.
func (p Pattern) scheduled() []time.Time {
	var out []time.Time
	if p.Monthly {
		for m := time.Date(p.Start.Year(), p.Start.Month(), 1, 0, 0, 0, 0, time.UTC); !m.After(p.End); m = m.AddDate(0, 1, 0) {
			d := m.AddDate(0, 0, (int(p.Weekday)-int(m.Weekday())+7)%7+7*(p.WeekOfMonth-1))
			if d.Month() == m.Month() && !d.Before(p.Start) && !d.After(p.End) {
				out = append(out, d)
			}
		}
		return out
	}
	d := p.Start.AddDate(0, 0, (int(p.Weekday)-int(p.Start.Weekday())+7)%7)
	for ; !d.After(p.End); d = d.AddDate(0, 0, 7) {
		out = append(out, d)
	}
	return out
}

// Occurrences returns the receptions of p held between from and to
// (dates, inclusive), on cal.
func (p Pattern) Occurrences(cal *calendar.Calendar, from, to time.Time) []Occurrence {
	dates := p.scheduled()
	var out []Occurrence
	for i, s := range dates {
		day := cal.Day(s)
		o := Occurrence{Scheduled: s, Date: s, Provisional: day.Provisional}
		if !day.Working() {
			// 节假日顺推: the next working day.
			next, prov := cal.NextWorkingDay(s)
			o.Date, o.Provisional = next, o.Provisional || prov
			if i+1 < len(dates) && !o.Date.Before(dates[i+1]) {
				continue // held with the next one
			}
		}
		if !o.Date.Before(from) && !o.Date.After(to) {
			out = append(out, o)
		}
	}
	return out
}
