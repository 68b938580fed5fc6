// Package store is reporting's read model: one row of facts per case, the
// latest clock of each kind of a case, and monthly aggregates that every
// figure is read from.
//
// The figures are defined once, by the view case_contributions (migration
// 000002): a case contributes to one row of each aggregate table. Applying
// a batch of events ([Changes]) reads the contributions of the cases it
// touches, changes the cases, reads their contributions again and moves
// the differences into the aggregates, all in the batch's transaction;
// RecomputeAggregates rebuilds them from the cases, and the tests check
// the two agree.
package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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
	"resolved",
}

// Sums are the values of Measures, in order.
type Sums [21]int64

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
	// Involved are the case's parties, who may see it (the registering
	// office, then policy.MoveParties of each move): their figures count it.
	Involved []string
}

// Involve adds parties to the case's.
func (c *Case) Involve(parties ...string) {
	for _, p := range parties {
		if p != "" && !slices.Contains(c.Involved, p) {
			c.Involved = append(slices.Clip(c.Involved), p)
		}
	}
}

// Clock status.
const (
	Pending int16 = 0
	OnTime  int16 = 1
	Late    int16 = 2
)

const caseColumns = `case_number, county, township, topic, receive_time, channel, class, head_count, grp, repeat,
	last_seq, state, department, referred_up, answered, rating, reviewed, re_reviewed, routing, acceptance, handling, involved`

func (c *Case) fields() []any {
	var rt *time.Time
	if !c.ReceiveTime.IsZero() {
		rt = &c.ReceiveTime
	}
	return []any{c.Number, c.County, c.Township, c.Topic, rt, c.Channel, c.Class, c.HeadCount, c.Group, c.Repeat,
		c.LastSeq, c.State, c.Department, c.ReferredUp, c.Answered, c.Rating, c.Reviewed, c.ReReviewed, c.Routing, c.Acceptance, c.Handling,
		involvedOrEmpty(c.Involved)}
}

func involvedOrEmpty(parties []string) []string {
	if parties == nil {
		return []string{} // the column is NOT NULL
	}
	return parties
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
		`TRUNCATE monthly_figures, monthly_departments, monthly_topics, monthly_offices, monthly_office_topics`,
		`INSERT INTO monthly_figures (county, month, township, channel, class, ` + ms + `)
			SELECT county, month, township, channel, class, ` + ss + ` FROM case_contributions GROUP BY 1, 2, 3, 4, 5`,
		`INSERT INTO monthly_departments (county, month, township, department, ` + ms + `)
			SELECT county, month, township, department, ` + ss + ` FROM case_contributions WHERE department <> '' GROUP BY 1, 2, 3, 4`,
		`INSERT INTO monthly_topics (county, month, township, topic, cases, persons)
			SELECT county, month, township, topic, sum(cases), sum(persons) FROM case_contributions GROUP BY 1, 2, 3, 4`,
		`INSERT INTO monthly_offices (county, month, office, township, department, channel, class, ` + ms + `)
			SELECT county, month, o.office, township, department, channel, class, ` + ss + `
			FROM case_contributions, unnest(involved) AS o(office) GROUP BY 1, 2, 3, 4, 5, 6, 7`,
		`INSERT INTO monthly_office_topics (county, office, month, topic, cases, persons)
			SELECT county, o.office, month, topic, sum(cases), sum(persons)
			FROM case_contributions, unnest(involved) AS o(office) GROUP BY 1, 2, 3, 4`,
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

// Reset empties the read model and forgets the feeds' cursors, so the
// followers rebuild it from the event history.
func (s *Store) Reset(ctx context.Context) error {
	_, err := s.Pool.Exec(ctx, `TRUNCATE cases, case_clocks, running_clock_days, monthly_figures, monthly_departments, monthly_topics, monthly_offices, monthly_office_topics, monthly_leaders,
		processed_events, feed_cursors; UPDATE read_model SET as_of = NULL`)
	if err != nil {
		return fmt.Errorf("store.Reset: %w", err)
	}
	return nil
}
