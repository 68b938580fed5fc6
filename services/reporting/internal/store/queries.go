package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tongban/tongban/services/county/calendar"
)

// Filter selects the aggregate rows of a report.
type Filter struct {
	County string
	// From and To are the first days of the first and last month.
	From, To time.Time
	// Township limits to one township when set.
	Township string
	// Office limits to the cases an office is party to, the cases it may
	// list (read from monthly_offices).
	Office string
}

// Dimensions a breakdown may group by.
const (
	ByTotal      = "''"
	ByMonth      = "to_char(month, 'YYYY-MM')"
	ByTownship   = "township"
	ByChannel    = "channel::text"
	ByClass      = "class::text"
	ByDepartment = "department"
)

// Batch collects the queries of one report and sends them in one round
// trip.
type Batch struct {
	b pgx.Batch
}

// Breakdown queues the sums of f's rows grouped by dim (one of the By
// constants); into receives them by group key.
func (b *Batch) Breakdown(f Filter, dim string, into map[string]*Sums) {
	table := "monthly_figures"
	switch {
	case f.Office != "":
		table = "monthly_offices"
	case dim == ByDepartment:
		table = "monthly_departments" // the department that held it last
	}
	sums := make([]string, len(Measures))
	for i, m := range Measures {
		sums[i] = "sum(" + m + ")::bigint"
	}
	q := `SELECT ` + dim + `, ` + strings.Join(sums, ", ") + ` FROM ` + table + `
		WHERE county = $1 AND month BETWEEN $2 AND $3 AND ($4 = '' OR township = $4)`
	args := []any{f.County, f.From, f.To, f.Township}
	if table == "monthly_offices" {
		q += ` AND office = $5`
		args = append(args, f.Office)
		if dim == ByDepartment {
			q += ` AND department <> ''`
		}
	}
	q += ` GROUP BY 1`
	b.b.Queue(q, args...).Query(func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var key string
			s := new(Sums)
			dest := []any{&key}
			for i := range s {
				dest = append(dest, &s[i])
			}
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			into[key] = s
		}
		return rows.Err()
	})
}

// Topic is one topic's cases and persons.
type Topic struct {
	Topic          string
	Cases, Persons int64
}

// Topics queues the n topics with the most cases.
func (b *Batch) Topics(f Filter, n int, into *[]Topic) {
	// An office's topics have no township (its scope is never both).
	table, where := "monthly_topics", `($4 = '' OR township = $4)`
	args := []any{f.County, f.From, f.To, f.Township, n}
	if f.Office != "" {
		table, where, args = "monthly_office_topics", `office = $4`, []any{f.County, f.From, f.To, f.Office, n}
	}
	b.b.Queue(`SELECT topic, sum(cases)::bigint, sum(persons)::bigint FROM `+table+`
		WHERE county = $1 AND month BETWEEN $2 AND $3 AND `+where+`
		GROUP BY topic HAVING sum(cases) > 0 ORDER BY 2 DESC, topic COLLATE "C" LIMIT $5`, args...).Query(func(rows pgx.Rows) error {
		var err error
		*into, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Topic])
		return err
	})
}

// Leader is one leader's meetings.
type Leader struct {
	Leader, Office                  string
	ReceptionMeetings, Appointments int64
}

// Leaders queues the leaders' meetings of the period; a township filter
// keeps the leaders of that township's office, an office's those of the
// office.
func (b *Batch) Leaders(f Filter, into *[]Leader) {
	office := ""
	switch {
	case f.Office != "":
		office = "offices/" + f.Office
	case f.Township != "":
		office = "offices/" + f.Township
	}
	b.b.Queue(`SELECT leader, office, sum(reception_meetings)::bigint, sum(appointments)::bigint FROM monthly_leaders
		WHERE county = $1 AND month BETWEEN $2 AND $3 AND ($4 = '' OR office = $4)
		GROUP BY leader, office ORDER BY sum(reception_meetings) + sum(appointments) DESC, leader, office`, f.County, f.From, f.To, office).Query(func(rows pgx.Rows) error {
		var err error
		*into, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Leader])
		return err
	})
}

// ClockFilter selects running duty clocks.
type ClockFilter struct {
	// Office is the office that must act; Party, when set, keeps the
	// clocks of the cases it is party to (may list).
	County, Township, Office, Party string
	// DueAfter and DueBefore bound the due time (exclusive, inclusive).
	DueAfter, DueBefore time.Time
}

func (f ClockFilter) where() (string, []any) {
	w := `county = $1 AND stop_time IS NULL AND duty AND pause_time IS NULL AND due_time > $2 AND due_time <= $3`
	args := []any{f.County, f.DueAfter, f.DueBefore}
	if f.Township != "" {
		args = append(args, f.Township)
		w += fmt.Sprintf(" AND township = $%d", len(args))
	}
	if f.Office != "" {
		args = append(args, f.Office)
		w += fmt.Sprintf(" AND office = $%d", len(args))
	}
	if f.Party != "" {
		args = append(args, []string{f.Party})
		w += fmt.Sprintf(" AND case_number IN (SELECT case_number FROM cases WHERE involved @> $%d::text[])", len(args))
	}
	return w, args
}

// CountDue queues the number of running duty clocks due from the date
// from to the date to (inclusive, in China), in f's county, township and
// office: a sum over running_clock_days, whose size is the backlog's
// number of distinct due dates, not its number of clocks.
//
// A party's count reads its cases' clocks instead: running_clock_days has
// no parties, and an office's running clocks are few.
func (b *Batch) CountDue(f ClockFilter, from, to time.Time, into *int64) {
	if f.Party != "" {
		f.DueAfter, f.DueBefore = calendar.EndOfDay(from.AddDate(0, 0, -1)), calendar.EndOfDay(to)
		w, args := f.where()
		b.b.Queue(`SELECT count(*) FROM case_clocks WHERE `+w, args...).QueryRow(func(r pgx.Row) error { return r.Scan(into) })
		return
	}
	b.b.Queue(`SELECT coalesce(sum(clocks), 0)::bigint FROM running_clock_days
		WHERE county = $1 AND due_date BETWEEN $2 AND $3 AND ($4 = '' OR township = $4) AND ($5 = '' OR office = $5)`,
		f.County, from, to, f.Township, f.Office).QueryRow(func(r pgx.Row) error { return r.Scan(into) })
}

// RecordsStart queues the first month the county's records hold cases
// for (zero if none).
func (b *Batch) RecordsStart(county string, into *time.Time) {
	b.b.Queue(`SELECT min(month) FROM monthly_figures WHERE county = $1 AND cases > 0`, county).QueryRow(func(r pgx.Row) error {
		var m *time.Time
		if err := r.Scan(&m); err != nil {
			return err
		}
		if m != nil {
			*into = *m
		}
		return nil
	})
}

// AsOf queues the occur time of the newest event applied (zero if none):
// the figures are as of then.
func (b *Batch) AsOf(into *time.Time) {
	b.b.Queue(`SELECT as_of FROM read_model`).QueryRow(func(r pgx.Row) error {
		var at *time.Time
		if err := r.Scan(&at); err != nil {
			return err
		}
		if at != nil {
			*into = *at
		}
		return nil
	})
}

// Send runs the queued queries.
func (b *Batch) Send(ctx context.Context, s *Store) error {
	if err := s.Pool.SendBatch(ctx, &b.b).Close(); err != nil {
		return fmt.Errorf("store: report queries: %w", err)
	}
	return nil
}

// Clock is a case's latest clock of one kind.
type Clock struct {
	CaseNumber               string
	Kind                     int16
	County, Township, Office string
	Duty                     bool
	StartTime, DueTime       time.Time
	StopTime, PauseTime      *time.Time
	Overdue, Provisional     bool
	ExtensionDays            int32
	Rule                     string
	// Version is ClockChanged.version (0 from events older than versions).
	Version int64
}

const clockColumns = `case_number, kind, county, township, office, duty, start_time, due_time, stop_time, pause_time,
	overdue, provisional, extension_days, rule, version`

// ClockKey is the position of a clock in the lists (due time, case, kind).
type ClockKey struct {
	DueTime    time.Time
	CaseNumber string
	Kind       int16
}

// Clocks returns up to limit clocks of f after key (zero: from the start),
// earliest due first.
func (s *Store) Clocks(ctx context.Context, f ClockFilter, after ClockKey, limit int) ([]Clock, error) {
	w, args := f.where()
	if !after.DueTime.IsZero() {
		n := len(args)
		args = append(args, after.DueTime, after.CaseNumber, after.Kind)
		w += fmt.Sprintf(" AND (due_time, case_number, kind) > ($%d, $%d, $%d)", n+1, n+2, n+3)
	}
	args = append(args, limit)
	rows, err := s.Pool.Query(ctx, `SELECT `+clockColumns+` FROM case_clocks WHERE `+w+
		fmt.Sprintf(` ORDER BY due_time, case_number, kind LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("store.Clocks: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Clock])
	if err != nil {
		return nil, fmt.Errorf("store.Clocks: %w", err)
	}
	return out, nil
}
