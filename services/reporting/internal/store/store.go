// Package store is reporting's read model: one row of facts per case, the
// latest clock of each kind of a case, and monthly aggregates that every
// figure is read from.
//
// The figures are defined once, by the view case_contributions (migration
// 000002): a case contributes to one row of each aggregate table. Applying
// an event reads the case's contribution, changes the case, reads it
// again and moves the difference into the aggregates, all in the event's
// transaction; RecomputeAggregates rebuilds them from the cases, and the
// tests check the two agree.
package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongban/tongban/services/platform/pgdb"
)

// Store wraps reporting's pool.
type Store struct{ Pool *pgxpool.Pool }

// Measures are the summed columns of case_contributions, monthly_figures
// and monthly_departments, in order: the field names of
// tongban.reporting.v1.Figures.
var Measures = []string{
	"cases", "persons", "group_cases", "referred_up", "repeats", "answered", "closed", "declined",
	"evaluated", "satisfied", "basically_satisfied", "unsatisfied", "reviews", "re_reviews",
	"routing_on_time", "routing_late", "acceptance_on_time", "acceptance_late", "handling_on_time", "handling_late",
}

// Sums are the values of Measures, in order.
type Sums [20]int64

// Get returns the sum of the measure named name (0 for an unknown name).
func (s *Sums) Get(name string) int64 {
	if i := slices.Index(Measures, name); i >= 0 {
		return s[i]
	}
	return 0
}

// Add adds o to s.
func (s *Sums) Add(o *Sums) {
	for i := range s {
		s[i] += o[i]
	}
}

// Case is one case's row of facts. A zero field is a fact not yet known.
type Case struct {
	Number, County, Township, Topic string
	ReceiveTime                     time.Time // zero until intake's registration arrives
	Channel, Class                  int16
	HeadCount                       int32
	Group, Repeat                   bool
	LastSeq                         int64
	State                           int16
	Department                      string
	ReferredUp, Answered            bool
	Rating                          int16
	Reviewed, ReReviewed            bool
	// Routing, Acceptance and Handling are the status of the case's clock
	// of that kind: Pending, OnTime or Late.
	Routing, Acceptance, Handling int16
}

// Clock status.
const (
	Pending int16 = 0
	OnTime  int16 = 1
	Late    int16 = 2
)

const caseColumns = `case_number, county, township, topic, receive_time, channel, class, head_count, grp, repeat,
	last_seq, state, department, referred_up, answered, rating, reviewed, re_reviewed, routing, acceptance, handling`

func (c *Case) fields() []any {
	var rt *time.Time
	if !c.ReceiveTime.IsZero() {
		rt = &c.ReceiveTime
	}
	return []any{c.Number, c.County, c.Township, c.Topic, rt, c.Channel, c.Class, c.HeadCount, c.Group, c.Repeat,
		c.LastSeq, c.State, c.Department, c.ReferredUp, c.Answered, c.Rating, c.Reviewed, c.ReReviewed, c.Routing, c.Acceptance, c.Handling}
}

// saveCase upserts a case's row (the columns of caseColumns in order) and
// its month, the China month of its receive time.
var saveCase = func() string {
	cols := strings.Split(caseColumns, ",")
	ph := make([]string, len(cols))
	var set []string
	for i, col := range cols {
		ph[i] = fmt.Sprintf("$%d", i+1)
		if col = strings.TrimSpace(col); i > 0 {
			set = append(set, col+" = EXCLUDED."+col)
		}
	}
	return `INSERT INTO cases (` + caseColumns + `, month) VALUES (` + strings.Join(ph, ",") + `,
		date_trunc('month', $5::timestamptz AT TIME ZONE 'Asia/Shanghai')::date)
		ON CONFLICT (case_number) DO UPDATE SET ` + strings.Join(set, ", ") + `, month = EXCLUDED.month`
}()

// Serialize takes the transaction-scoped lock that orders every change of
// the read model: the three feeds are applied one transaction at a time,
// so the aggregate rows they share are never locked in opposite orders.
func (s *Store) Serialize(ctx context.Context, tx pgx.Tx) error {
	if err := pgdb.Later(ctx, tx, `SELECT pg_advisory_xact_lock(7401)`); err != nil {
		return fmt.Errorf("store.Serialize: %w", err)
	}
	return nil
}

// Change loads case number (an empty row when new), lets fn change it,
// saves it and moves the difference of its contribution into the
// aggregates. Call Serialize first in the same transaction.
func (s *Store) Change(ctx context.Context, tx pgx.Tx, number string, fn func(c *Case) error) error {
	c := &Case{Number: number}
	var rt *time.Time
	var before contribution
	// The case and its contribution so far in one round trip.
	b := &pgx.Batch{}
	b.Queue(`SELECT `+caseColumns+` FROM cases WHERE case_number = $1`, number).QueryRow(func(row pgx.Row) error {
		err := row.Scan(
			&c.Number, &c.County, &c.Township, &c.Topic, &rt, &c.Channel, &c.Class, &c.HeadCount, &c.Group, &c.Repeat,
			&c.LastSeq, &c.State, &c.Department, &c.ReferredUp, &c.Answered, &c.Rating, &c.Reviewed, &c.ReReviewed,
			&c.Routing, &c.Acceptance, &c.Handling)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // a case this read model has not seen yet
		}
		return err
	})
	b.Queue(contributionSQL, number).QueryRow(func(row pgx.Row) error {
		var err error
		before, err = scanContribution(row, number)
		return err
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store.Change: %w", err)
	}
	if rt != nil {
		c.ReceiveTime = *rt
	}
	if err := fn(c); err != nil {
		return err
	}
	if err := pgdb.Later(ctx, tx, saveCase, c.fields()...); err != nil {
		return fmt.Errorf("store.Change: save %s: %w", number, err)
	}
	after, err := contributionOf(ctx, tx, number)
	if err != nil {
		return err
	}
	return moveContribution(ctx, tx, before, after)
}

// contribution is a case's row of case_contributions.
type contribution struct {
	counted                             bool
	county, township, department, topic string
	month                               time.Time
	channel, class                      int16
	sums                                Sums
}

func contributionOf(ctx context.Context, tx pgx.Tx, number string) (contribution, error) {
	return scanContribution(tx.QueryRow(ctx, contributionSQL, number), number)
}

var contributionSQL = `SELECT county, month, township, department, channel, class, topic, ` + strings.Join(Measures, ", ") + `
	FROM case_contributions WHERE case_number = $1`

// scanContribution reads contributionSQL's row; none is no contribution.
func scanContribution(row pgx.Row, number string) (contribution, error) {
	c := contribution{counted: true}
	dest := []any{&c.county, &c.month, &c.township, &c.department, &c.channel, &c.class, &c.topic}
	for i := range c.sums {
		dest = append(dest, &c.sums[i])
	}
	err := row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return contribution{}, nil
	}
	if err != nil {
		return c, fmt.Errorf("store: contribution of %s: %w", number, err)
	}
	return c, nil
}

// moveContribution takes a case's old contribution out of the aggregates
// and puts its new one in.
func moveContribution(ctx context.Context, tx pgx.Tx, before, after contribution) error {
	if before == after {
		return nil
	}
	for _, d := range []struct {
		c    contribution
		sign int64
	}{{before, -1}, {after, 1}} {
		if !d.c.counted {
			continue
		}
		args := []any{d.c.county, d.c.month, d.c.township}
		var vals []any
		for _, v := range d.c.sums {
			vals = append(vals, d.sign*v)
		}
		if err := pgdb.Later(ctx, tx, addFigures, append(append(args, d.c.channel, d.c.class), vals...)...); err != nil {
			return fmt.Errorf("store: monthly_figures: %w", err)
		}
		if d.c.department != "" {
			if err := pgdb.Later(ctx, tx, addDepartment, append(append(args, d.c.department), vals...)...); err != nil {
				return fmt.Errorf("store: monthly_departments: %w", err)
			}
		}
		if err := pgdb.Later(ctx, tx, `INSERT INTO monthly_topics AS t (county, month, township, topic, cases, persons) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (county, month, township, topic) DO UPDATE SET cases = t.cases + EXCLUDED.cases, persons = t.persons + EXCLUDED.persons`,
			d.c.county, d.c.month, d.c.township, d.c.topic, d.sign*d.c.sums[0], d.sign*d.c.sums[1]); err != nil {
			return fmt.Errorf("store: monthly_topics: %w", err)
		}
	}
	return nil
}

// addFigures and addDepartment add a contribution to an aggregate row.
var (
	addFigures    = upsertAdd("monthly_figures", []string{"county", "month", "township", "channel", "class"})
	addDepartment = upsertAdd("monthly_departments", []string{"county", "month", "township", "department"})
)

func upsertAdd(table string, keys []string) string {
	cols := append(slices.Clone(keys), Measures...)
	ph := make([]string, len(cols))
	for i := range cols {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	set := make([]string, len(Measures))
	for i, m := range Measures {
		set[i] = fmt.Sprintf("%s = a.%s + EXCLUDED.%s", m, m, m)
	}
	pk := slices.Clone(keys)
	if table == "monthly_departments" {
		pk = []string{"county", "month", "department", "township"}
	}
	return `INSERT INTO ` + table + ` AS a (` + strings.Join(cols, ", ") + `) VALUES (` + strings.Join(ph, ", ") + `)
		ON CONFLICT (` + strings.Join(pk, ", ") + `) DO UPDATE SET ` + strings.Join(set, ", ")
}

// RecomputeAggregates rebuilds every aggregate from the cases and clocks
// themselves (the bulk path: after loading many rows at once, and the
// tests' check of the incremental path).
func (s *Store) RecomputeAggregates(ctx context.Context, tx pgx.Tx) error {
	sums := make([]string, len(Measures))
	for i, m := range Measures {
		sums[i] = "sum(" + m + ")"
	}
	ms, ss := strings.Join(Measures, ", "), strings.Join(sums, ", ")
	for _, q := range []string{
		`TRUNCATE monthly_figures, monthly_departments, monthly_topics`,
		`INSERT INTO monthly_figures (county, month, township, channel, class, ` + ms + `)
			SELECT county, month, township, channel, class, ` + ss + ` FROM case_contributions GROUP BY 1, 2, 3, 4, 5`,
		`INSERT INTO monthly_departments (county, month, township, department, ` + ms + `)
			SELECT county, month, township, department, ` + ss + ` FROM case_contributions WHERE department <> '' GROUP BY 1, 2, 3, 4`,
		`INSERT INTO monthly_topics (county, month, township, topic, cases, persons)
			SELECT county, month, township, topic, sum(cases), sum(persons) FROM case_contributions GROUP BY 1, 2, 3, 4`,
		`TRUNCATE running_clock_days`,
		`INSERT INTO running_clock_days (county, due_date, township, office, clocks)
			SELECT county, (due_time AT TIME ZONE 'Asia/Shanghai')::date, township, office, count(*)
			FROM case_clocks WHERE stop_time IS NULL AND duty AND pause_time IS NULL GROUP BY 1, 2, 3, 4`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("store.RecomputeAggregates: %w", err)
		}
	}
	return nil
}

// Touch records that an event of occur time at was applied.
func (s *Store) Touch(ctx context.Context, tx pgx.Tx, at time.Time) error {
	if err := pgdb.Later(ctx, tx, `UPDATE read_model SET as_of = greatest(coalesce(as_of, $1), $1)`, at); err != nil {
		return fmt.Errorf("store.Touch: %w", err)
	}
	return nil
}

// Reset empties the read model and forgets the feeds' cursors, so the
// followers rebuild it from the event history.
func (s *Store) Reset(ctx context.Context) error {
	_, err := s.Pool.Exec(ctx, `TRUNCATE cases, case_clocks, running_clock_days, monthly_figures, monthly_departments, monthly_topics, monthly_leaders,
		processed_events, feed_cursors; UPDATE read_model SET as_of = NULL`)
	if err != nil {
		return fmt.Errorf("store.Reset: %w", err)
	}
	return nil
}
