package calendar

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Notice is one year's State Council holiday notice, as a clerk types it:
//
//	year 2027
//	source 国办发明电〔2026〕12号 (2026-11-10)
//	元旦 2027-01-01..2027-01-03
//	春节 2027-02-06..2027-02-13 workdays 2027-02-14 2027-02-20
//
// One holiday a line: its name, its days (a date or a range), and after
// "workdays" the weekend days worked instead (调休). "#" starts a comment.
type Notice struct {
	Year     int
	Source   string
	Holidays map[string][]string // name → dates
	Workdays map[string][]string // name → make-up working days
}

// ParseNotice reads a notice and checks it: every date valid and in (or,
// for the New Year holiday, just before) the year, no date twice, make-up
// days on weekends.
func ParseNotice(r io.Reader) (*Notice, error) {
	n := &Notice{Holidays: map[string][]string{}, Workdays: map[string][]string{}}
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("line %d: %s", line, fmt.Sprintf(format, args...))
		}
		switch fields[0] {
		case "year":
			y, err := strconv.Atoi(strings.Join(fields[1:], ""))
			if err != nil || y < 2000 || y > 2100 {
				return nil, fail("want \"year 2027\"")
			}
			n.Year = y
			continue
		case "source":
			n.Source = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(text), "source"))
			continue
		}
		if n.Year == 0 {
			return nil, fail("the year comes first (\"year 2027\")")
		}
		name, list := fields[0], &n.Holidays
		for _, f := range fields[1:] {
			if f == "workdays" {
				list = &n.Workdays
				continue
			}
			dates, err := expand(f)
			if err != nil {
				return nil, fail("%v", err)
			}
			for _, d := range dates {
				s := d.Format(time.DateOnly)
				switch {
				case d.Year() != n.Year && !(d.Year() == n.Year-1 && d.Month() == time.December && list == &n.Holidays):
					return nil, fail("%s is not in %d", s, n.Year)
				case seen[s]:
					return nil, fail("%s listed twice", s)
				case list == &n.Workdays && d.Weekday() != time.Saturday && d.Weekday() != time.Sunday:
					return nil, fail("%s is a make-up working day but not a weekend day", s)
				}
				seen[s] = true
				(*list)[name] = append((*list)[name], s)
			}
		}
		if len(n.Holidays[name]) == 0 {
			return nil, fail("%s has no days off", name)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if n.Year == 0 || len(n.Holidays) == 0 {
		return nil, fmt.Errorf("empty notice: want a year and at least one holiday")
	}
	if n.Source == "" {
		return nil, fmt.Errorf("the notice needs its source (\"source 国办发明电〔…〕…号\")")
	}
	return n, nil
}

// expand reads "2027-02-06" or "2027-02-06..2027-02-13" (at most 15 days).
func expand(f string) ([]time.Time, error) {
	from, to, isRange := strings.Cut(f, "..")
	a, err := time.Parse(time.DateOnly, from)
	if err != nil {
		return nil, fmt.Errorf("%q is not a date (YYYY-MM-DD) or range (YYYY-MM-DD..YYYY-MM-DD)", f)
	}
	if !isRange {
		return []time.Time{a}, nil
	}
	b, err := time.Parse(time.DateOnly, to)
	if err != nil || b.Before(a) || b.Sub(a) > 14*24*time.Hour {
		return nil, fmt.Errorf("%q is not a range of at most 15 days", f)
	}
	var out []time.Time
	for d := a; !d.After(b); d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	return out, nil
}

// Merge adds the notice to the calendar data file (holidays.json): a year
// already present is refused unless replace is set. Dates are filed under
// the year they fall in.
func Merge(data []byte, n *Notice, replace bool) ([]byte, error) {
	var file struct {
		Source string                     `json:"_source"`
		Years  map[string]json.RawMessage `json:"years"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("calendar data: %w", err)
	}
	if _, err := parse(data); err != nil {
		return nil, err
	}
	key := strconv.Itoa(n.Year)
	if _, ok := file.Years[key]; ok && !replace {
		return nil, fmt.Errorf("%d is already in the data (use -replace to load a corrected notice)", n.Year)
	}
	type year struct {
		Holidays map[string][]string `json:"holidays"`
		Workdays map[string][]string `json:"workdays"`
	}
	years := map[string]*year{}
	for k, raw := range file.Years {
		if k == key {
			continue
		}
		var y year
		if err := json.Unmarshal(raw, &y); err != nil {
			return nil, err
		}
		years[k] = &y
	}
	file1 := func(list map[string][]string, pick func(*year) map[string][]string) {
		for name, dates := range list {
			for _, d := range dates {
				k := d[:4]
				if years[k] == nil {
					years[k] = &year{Holidays: map[string][]string{}, Workdays: map[string][]string{}}
				}
				m := pick(years[k])
				m[name] = append(m[name], d)
				slices.Sort(m[name])
			}
		}
	}
	if years[key] == nil {
		years[key] = &year{Holidays: map[string][]string{}, Workdays: map[string][]string{}}
	}
	file1(n.Holidays, func(y *year) map[string][]string { return y.Holidays })
	file1(n.Workdays, func(y *year) map[string][]string { return y.Workdays })
	out := struct {
		Source string           `json:"_source"`
		Years  map[string]*year `json:"years"`
	}{Source: file.Source + " " + key + " = " + n.Source + ".", Years: years}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	if _, err := parse(b); err != nil {
		return nil, fmt.Errorf("merged data does not load: %w", err)
	}
	return b, nil
}

// WithNotices returns a copy of c with the notices' years added (a year
// already in c is refused: notices extend the data, never rewrite it).
func (c *Calendar) WithNotices(notices []*Notice) (*Calendar, error) {
	out := &Calendar{special: make(map[string]Day, len(c.special)), years: make(map[int]bool, len(c.years))}
	for k, d := range c.special {
		out.special[k] = d
	}
	for y := range c.years {
		out.years[y] = true
	}
	for _, n := range notices {
		if out.years[n.Year] {
			return nil, fmt.Errorf("calendar: %d is already in the data", n.Year)
		}
		out.years[n.Year] = true
		for kind, list := range map[Kind]map[string][]string{Holiday: n.Holidays, MakeupWorkday: n.Workdays} {
			for name, dates := range list {
				for _, s := range dates {
					t, err := time.Parse(time.DateOnly, s)
					if err != nil {
						return nil, fmt.Errorf("calendar: %q: %w", s, err)
					}
					if _, dup := out.special[s]; dup {
						return nil, fmt.Errorf("calendar: %s listed twice", s)
					}
					out.special[s] = Day{Date: t, Kind: kind, Holiday: name}
				}
			}
		}
	}
	return out, nil
}

// Build is the calendar in force: the official data, the notices loaded at
// run time (their texts) and local days off.
func Build(notices []string, localRestDays map[string]string) (*Calendar, error) {
	var ns []*Notice
	for _, text := range notices {
		n, err := ParseNotice(strings.NewReader(text))
		if err != nil {
			return nil, err
		}
		ns = append(ns, n)
	}
	c, err := Official().WithNotices(ns)
	if err != nil {
		return nil, err
	}
	return c.WithLocalRestDays(localRestDays)
}
