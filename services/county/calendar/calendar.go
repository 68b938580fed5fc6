// Package calendar is the official working-day calendar: public holidays
// and 调休 make-up working days from the State Council notices, kept as
// reviewed data (holidays.json, with its source). A date in a year whose
// notice is not in the data is answered from weekdays and the fixed-date
// statutory holidays and flagged provisional: never silently.
package calendar

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"time"
)

//go:embed holidays.json
var data []byte

// Kind says why a day is or is not a working day.
type Kind int

// Kinds of day.
const (
	Workday Kind = iota + 1
	Weekend
	Holiday
	MakeupWorkday
	// LocalRestDay is a day off the county gave locally (an administrator
	// adds it; it is not in the State Council notice).
	LocalRestDay
)

// Day is what the calendar knows of one date.
type Day struct {
	Date        time.Time
	Kind        Kind
	Holiday     string // the holiday's name for Holiday and MakeupWorkday
	Provisional bool   // the year has no published notice in the data
}

// Working reports whether offices work that day.
func (d Day) Working() bool { return d.Kind == Workday || d.Kind == MakeupWorkday }

// Calendar answers questions about dates.
type Calendar struct {
	special map[string]Day // "2026-02-14" → day
	years   map[int]bool
}

// Official returns the calendar of the embedded notices.
func Official() *Calendar {
	c, err := parse(data)
	if err != nil {
		panic(err) // embedded data is tested
	}
	return c
}

func parse(b []byte) (*Calendar, error) {
	var raw struct {
		Years map[string]struct {
			Holidays map[string][]string `json:"holidays"`
			Workdays map[string][]string `json:"workdays"`
		} `json:"years"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	c := &Calendar{special: map[string]Day{}, years: map[int]bool{}}
	add := func(year int, m map[string][]string, kind Kind) error {
		for name, dates := range m {
			for _, s := range dates {
				t, err := time.Parse(time.DateOnly, s)
				if err != nil {
					return fmt.Errorf("calendar: %q: %w", s, err)
				}
				if t.Year() != year {
					return fmt.Errorf("calendar: %s listed under %d", s, year)
				}
				if _, dup := c.special[s]; dup {
					return fmt.Errorf("calendar: %s listed twice", s)
				}
				c.special[s] = Day{Date: t, Kind: kind, Holiday: name}
			}
		}
		return nil
	}
	for ys, y := range raw.Years {
		var year int
		if _, err := fmt.Sscanf(ys, "%d", &year); err != nil {
			return nil, fmt.Errorf("calendar: year %q", ys)
		}
		c.years[year] = true
		if err := add(year, y.Holidays, Holiday); err != nil {
			return nil, err
		}
		if err := add(year, y.Workdays, MakeupWorkday); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Day returns what the calendar knows of date (its time of day is ignored).
func (c *Calendar) Day(date time.Time) Day {
	date = time.Date(date.Year(), date.Month(), date.Day(), 0, 0, 0, 0, time.UTC)
	if d, ok := c.special[date.Format(time.DateOnly)]; ok {
		return d
	}
	d := Day{Date: date, Kind: Workday, Provisional: !c.years[date.Year()]}
	if wd := date.Weekday(); wd == time.Saturday || wd == time.Sunday {
		d.Kind = Weekend
	}
	if name, ok := fixedHolidays[date.Format("01-02")]; ok && d.Provisional && date.Year() >= 2025 {
		d.Kind, d.Holiday = Holiday, name
	}
	return d
}

// fixedHolidays are the statutory days off on fixed dates (《全国年节及纪念日
// 放假办法》, revised 2024-11-12, in force from 2025): certain before a year's
// notice, which adds only the bridges and make-up days. The lunar ones (春节,
// 清明, 端午, 中秋) are not here: a year without its notice stays provisional.
var fixedHolidays = map[string]string{
	"01-01": "元旦", "05-01": "劳动节", "05-02": "劳动节", "10-01": "国庆节", "10-02": "国庆节", "10-03": "国庆节",
}

// NextWorkingDay returns the first working day after t's date in China, and
// whether any day it passed was provisional.
func (c *Calendar) NextWorkingDay(t time.Time) (time.Time, bool) {
	return c.AddWorkingDays(t, 1)
}

// LastYear is the last year whose notice is in the data.
func (c *Calendar) LastYear() int {
	last := 0
	for y := range c.years {
		last = max(last, y)
	}
	return last
}

// WithLocalRestDays returns a copy of c in which the given dates (their
// names in names) are local days off. A date the notice already makes a
// holiday keeps that kind.
func (c *Calendar) WithLocalRestDays(days map[string]string) (*Calendar, error) {
	out := &Calendar{special: make(map[string]Day, len(c.special)+len(days)), years: c.years}
	for k, d := range c.special {
		out.special[k] = d
	}
	for s, name := range days {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return nil, fmt.Errorf("calendar: local day %q: %w", s, err)
		}
		if d, ok := out.special[s]; ok && d.Kind == Holiday {
			continue
		}
		out.special[s] = Day{Date: t, Kind: LocalRestDay, Holiday: name, Provisional: !c.years[t.Year()]}
	}
	return out, nil
}

// China is the time zone of every date the calendar speaks of (no daylight
// saving since 1991).
var China = time.FixedZone("CST", 8*60*60)

// DateOf is t's calendar date in China, at midnight UTC (the calendar's key).
func DateOf(t time.Time) time.Time {
	t = t.In(China)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// AddWorkingDays returns the date that is n working days after t's date in
// China (t's own day is not counted: 民法典 第二百零一条), and whether any day
// it passed was provisional (its year's notice is not in the data).
func (c *Calendar) AddWorkingDays(t time.Time, n int) (due time.Time, provisional bool) {
	d := DateOf(t)
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		day := c.Day(d)
		provisional = provisional || day.Provisional
		if day.Working() {
			n--
		}
	}
	return d, provisional
}

// AddDays returns the last day of a period of n calendar days ("N日")
// starting the day after t's date in China. With rollOver, a last day on
// which offices do not work moves to the next working day (民法典 第二百零三条;
// whether petition work applies it is a setting of the rule set).
func (c *Calendar) AddDays(t time.Time, n int, rollOver bool) (due time.Time, provisional bool) {
	d := DateOf(t).AddDate(0, 0, n)
	day := c.Day(d)
	provisional = day.Provisional
	for rollOver && !day.Working() {
		d = d.AddDate(0, 0, 1)
		day = c.Day(d)
		provisional = provisional || day.Provisional
	}
	return d, provisional
}

// EndOfDay is the last instant of date's day in China: a period that ends on
// date is met by anything done before it.
func EndOfDay(date time.Time) time.Time {
	return time.Date(date.Year(), date.Month(), date.Day(), 0, 0, 0, 0, China).AddDate(0, 0, 1).Add(-time.Nanosecond)
}

// WorkingDaysBefore returns the date n working days before date (date
// itself not counted); with n = 0, date.
func (c *Calendar) WorkingDaysBefore(date time.Time, n int) time.Time {
	d := time.Date(date.Year(), date.Month(), date.Day(), 0, 0, 0, 0, time.UTC)
	for n > 0 {
		d = d.AddDate(0, 0, -1)
		if c.Day(d).Working() {
			n--
		}
	}
	return d
}
