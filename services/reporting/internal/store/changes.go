package store

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tongban/tongban/services/platform/pgdb"
)

// Changes gathers what one transaction's events do to the read model
// (one consumer batch): the cases they touch are read once, with their
// contributions and their clocks' versions, changed in memory, and written
// once at Flush; the aggregates receive each row's net difference once.
// A batch of 200 events about 70 cases thus costs three round trips
// instead of two or three per event.
//
// Begin takes the transaction-scoped lock that orders every change of the
// read model (the three feeds are applied one transaction at a time, so
// the aggregate rows they share are never locked in opposite orders and
// what Changes holds in memory is what the tables hold).
type Changes struct {
	tx     pgx.Tx
	cases  map[string]*pending
	order  []string           // cases in the order first touched, for the writes
	clocks map[clockKey]int64 // version of every stored clock of the loaded cases
	loaded map[string]bool    // cases whose row and clocks were read
	asOf   time.Time          // latest occur time applied
}

type pending struct {
	c, was  Case
	existed bool // the row was in the table
	changed bool // fn ran on it
	before  contribution
}

type clockKey struct {
	number string
	kind   int16
}

// Begin starts the changes of a batch about the given cases (more may be
// touched; each is then read when first changed).
func (s *Store) Begin(ctx context.Context, tx pgx.Tx, numbers []string) (*Changes, error) {
	if err := pgdb.Later(ctx, tx, `SELECT pg_advisory_xact_lock(7401)`); err != nil {
		return nil, fmt.Errorf("store.Begin: lock: %w", err)
	}
	ch := &Changes{tx: tx, cases: map[string]*pending{}, clocks: map[clockKey]int64{}, loaded: map[string]bool{}}
	if err := ch.load(ctx, numbers); err != nil {
		return nil, err
	}
	return ch, nil
}

// load reads the rows, contributions and clock versions of the cases not
// read yet, in one round trip.
func (ch *Changes) load(ctx context.Context, numbers []string) error {
	var want []string
	for _, n := range numbers {
		if !ch.loaded[n] {
			ch.loaded[n] = true
			want = append(want, n)
			ch.cases[n] = &pending{c: Case{Number: n}, was: Case{Number: n}}
		}
	}
	if len(want) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	b.Queue(byNumbers(`SELECT `+caseColumns+` FROM cases`), want).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var c Case
			var rt *time.Time
			if err := rows.Scan(
				&c.Number, &c.County, &c.Township, &c.Topic, &rt, &c.Channel, &c.Class, &c.HeadCount, &c.Group, &c.Repeat,
				&c.LastSeq, &c.State, &c.Department, &c.ReferredUp, &c.Answered, &c.Rating, &c.Reviewed, &c.ReReviewed,
				&c.Routing, &c.Acceptance, &c.Handling, &c.Involved); err != nil {
				return err
			}
			if rt != nil {
				c.ReceiveTime = *rt
			}
			p := ch.cases[c.Number]
			p.c, p.was, p.existed = c, c, true
		}
		return rows.Err()
	})
	b.Queue(contributionsSQL, want).Query(func(rows pgx.Rows) error {
		return scanContributions(rows, func(number string, c contribution) { ch.cases[number].before = c })
	})
	b.Queue(byNumbers(`SELECT case_number, kind, version FROM case_clocks`), want).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var k clockKey
			var v int64
			if err := rows.Scan(&k.number, &k.kind, &v); err != nil {
				return err
			}
			ch.clocks[k] = v
		}
		return rows.Err()
	})
	if err := ch.tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store: read cases: %w", err)
	}
	return nil
}

// Change lets fn change case number (an empty row when new); the row and
// the difference of its contribution are written at Flush.
func (ch *Changes) Change(ctx context.Context, number string, fn func(c *Case) error) error {
	if err := ch.load(ctx, []string{number}); err != nil {
		return err
	}
	p := ch.cases[number]
	if err := fn(&p.c); err != nil {
		return err
	}
	if !p.changed {
		p.changed = true
		ch.order = append(ch.order, number)
	}
	return nil
}

// SaveClock stores c as the case's clock of its kind, with the case's
// township as far as known, unless a newer version of the clock is stored
// already; it reports whether it stored c.
func (ch *Changes) SaveClock(ctx context.Context, c *Clock) (bool, error) {
	if err := ch.load(ctx, []string{c.CaseNumber}); err != nil {
		return false, err
	}
	k := clockKey{c.CaseNumber, c.Kind}
	if v, ok := ch.clocks[k]; ok && c.Version != 0 && v >= c.Version {
		return false, nil
	}
	ch.clocks[k] = c.Version
	// The same condition in SQL, so the table never goes back a version
	// whatever this batch believed.
	err := pgdb.Later(ctx, ch.tx, `INSERT INTO case_clocks (`+clockColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT (case_number, kind) DO UPDATE SET county = EXCLUDED.county, township = EXCLUDED.township, office = EXCLUDED.office,
			duty = EXCLUDED.duty, start_time = EXCLUDED.start_time, due_time = EXCLUDED.due_time, stop_time = EXCLUDED.stop_time,
			pause_time = EXCLUDED.pause_time, overdue = EXCLUDED.overdue, provisional = EXCLUDED.provisional,
			extension_days = EXCLUDED.extension_days, rule = EXCLUDED.rule, version = EXCLUDED.version
		WHERE EXCLUDED.version = 0 OR case_clocks.version < EXCLUDED.version`,
		c.CaseNumber, c.Kind, c.County, ch.cases[c.CaseNumber].c.Township, c.Office, c.Duty, c.StartTime, c.DueTime, c.StopTime, c.PauseTime,
		c.Overdue, c.Provisional, c.ExtensionDays, c.Rule, c.Version)
	if err != nil {
		return false, fmt.Errorf("store.SaveClock: %w", err)
	}
	return true, nil
}

// SetClocksTownship gives the clocks of a case its township (a clock can
// arrive before the registration).
func (ch *Changes) SetClocksTownship(ctx context.Context, number, township string) error {
	if err := pgdb.Later(ctx, ch.tx, `UPDATE case_clocks SET township = $2 WHERE case_number = $1 AND township <> $2`, number, township); err != nil {
		return fmt.Errorf("store.SetClocksTownship: %w", err)
	}
	return nil
}

// AddLeaderMeeting counts one meeting of a leader in month.
func (ch *Changes) AddLeaderMeeting(ctx context.Context, county string, month time.Time, office, leader string, reception bool) error {
	r, a := 0, 1
	if reception {
		r, a = 1, 0
	}
	err := pgdb.Later(ctx, ch.tx, `INSERT INTO monthly_leaders AS l (county, month, office, leader, reception_meetings, appointments)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (county, month, office, leader) DO UPDATE SET
		reception_meetings = l.reception_meetings + EXCLUDED.reception_meetings, appointments = l.appointments + EXCLUDED.appointments`,
		county, month, office, leader, r, a)
	if err != nil {
		return fmt.Errorf("store.AddLeaderMeeting: %w", err)
	}
	return nil
}

// Touch records that an event of occur time at was applied.
func (ch *Changes) Touch(at time.Time) {
	if at.After(ch.asOf) {
		ch.asOf = at
	}
}

// Flush writes the changed cases, reads their new contributions and moves
// the net differences into the aggregates, each aggregate row once.
func (ch *Changes) Flush(ctx context.Context) error {
	var saved []string
	for _, n := range ch.order {
		p := ch.cases[n]
		if p.existed && reflect.DeepEqual(p.c, p.was) {
			continue
		}
		if err := pgdb.Later(ctx, ch.tx, saveCase, p.c.fields()...); err != nil {
			return fmt.Errorf("store: save %s: %w", n, err)
		}
		saved = append(saved, n)
	}
	if len(saved) > 0 {
		after := make(map[string]contribution, len(saved))
		rows, err := ch.tx.Query(ctx, contributionsSQL, saved)
		if err != nil {
			return fmt.Errorf("store: contributions: %w", err)
		}
		if err := scanContributions(rows, func(number string, c contribution) { after[number] = c }); err != nil {
			return err
		}
		var d deltas
		for _, n := range saved {
			if b, a := ch.cases[n].before, after[n]; b != a {
				d.add(b, -1)
				d.add(a, 1)
			}
		}
		if err := d.write(ctx, ch.tx); err != nil {
			return err
		}
	}
	if !ch.asOf.IsZero() {
		if err := pgdb.Later(ctx, ch.tx, `UPDATE read_model SET as_of = greatest(coalesce(as_of, $1), $1)`, ch.asOf); err != nil {
			return fmt.Errorf("store: as of: %w", err)
		}
	}
	return nil
}

// contribution is a case's row of case_contributions.
type contribution struct {
	counted                             bool
	county, township, department, topic string
	month                               time.Time
	channel, class                      int16
	sums                                Sums
	// parties are the case's involved parties, joined by partySep (a
	// string, so that contributions compare with ==).
	parties string
}

const partySep = "\x00"

var contributionsSQL = byNumbers(`SELECT case_number, county, month, township, department, channel, class, topic, involved, ` +
	strings.Join(Measures, ", ") + ` FROM case_contributions`)

// byNumbers makes a query (SELECT … FROM relation) of the rows of the
// cases whose numbers are $1 (a text array), looked up one by one in the
// relation's index on case_number. "WHERE case_number = ANY($1)" would
// let the planner choose a sequential scan that compares every row with
// every number, growing with the table; OFFSET 0 keeps the lateral
// subquery from being flattened into such a plan.
func byNumbers(query string) string {
	return `SELECT r.* FROM unnest($1::text[]) AS n(num), LATERAL (` + query + ` WHERE case_number = n.num OFFSET 0) AS r`
}

// scanContributions reads contributionsSQL's rows (a case without one
// has no contribution).
func scanContributions(rows pgx.Rows, into func(number string, c contribution)) error {
	defer rows.Close()
	for rows.Next() {
		var number string
		c := contribution{counted: true}
		var parties []string
		dest := []any{&number, &c.county, &c.month, &c.township, &c.department, &c.channel, &c.class, &c.topic, &parties}
		for i := range c.sums {
			dest = append(dest, &c.sums[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("store: contribution: %w", err)
		}
		c.parties = strings.Join(parties, partySep)
		into(number, c)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: contributions: %w", err)
	}
	return nil
}

// The keys of the aggregate tables' rows.
type (
	figuresRow struct {
		county   string
		month    time.Time
		township string
		channel  int16
		class    int16
	}
	unitRow struct { // a department's (monthly_departments) or a topic's (monthly_topics)
		county   string
		month    time.Time
		township string
		unit     string
	}
	officeRow struct { // a party's (monthly_offices)
		county, office       string
		month                time.Time
		township, department string
		channel, class       int16
	}
	officeTopicRow struct { // a party's topic (monthly_office_topics)
		county, office string
		month          time.Time
		topic          string
	}
)

func (r figuresRow) args() []any { return []any{r.county, r.month, r.township, r.channel, r.class} }
func (r unitRow) args() []any    { return []any{r.county, r.month, r.township, r.unit} }
func (r officeRow) args() []any {
	return []any{r.county, r.office, r.month, r.township, r.department, r.channel, r.class}
}
func (r officeTopicRow) args() []any { return []any{r.county, r.office, r.month, r.topic} }

// deltas are the net differences of a batch per aggregate row.
type deltas struct {
	figures     map[figuresRow]*Sums
	departments map[unitRow]*Sums
	topics      map[unitRow]*Sums // cases and persons only
	offices     map[officeRow]*Sums
	officeTopic map[officeTopicRow]*Sums // cases and persons only
}

func (d *deltas) add(c contribution, sign int64) {
	if !c.counted {
		return
	}
	if d.figures == nil {
		d.figures, d.departments, d.topics = map[figuresRow]*Sums{}, map[unitRow]*Sums{}, map[unitRow]*Sums{}
		d.offices, d.officeTopic = map[officeRow]*Sums{}, map[officeTopicRow]*Sums{}
	}
	addTo(d.figures, figuresRow{c.county, c.month, c.township, c.channel, c.class}, &c.sums, sign)
	if c.department != "" {
		addTo(d.departments, unitRow{c.county, c.month, c.township, c.department}, &c.sums, sign)
	}
	addTo(d.topics, unitRow{c.county, c.month, c.township, c.topic}, &Sums{c.sums[0], c.sums[1]}, sign)
	if c.parties != "" {
		for _, p := range strings.Split(c.parties, partySep) {
			addTo(d.offices, officeRow{c.county, p, c.month, c.township, c.department, c.channel, c.class}, &c.sums, sign)
			addTo(d.officeTopic, officeTopicRow{c.county, p, c.month, c.topic}, &Sums{c.sums[0], c.sums[1]}, sign)
		}
	}
}

func addTo[K comparable](m map[K]*Sums, k K, s *Sums, sign int64) {
	t := m[k]
	if t == nil {
		t = &Sums{}
		m[k] = t
	}
	for i, v := range s {
		t[i] += sign * v
	}
}

// write adds every non-zero difference to its row.
func (d *deltas) write(ctx context.Context, tx pgx.Tx) error {
	if err := writeDeltas(ctx, tx, d.figures, addFigures, len(Measures)); err != nil {
		return err
	}
	if err := writeDeltas(ctx, tx, d.departments, addDepartment, len(Measures)); err != nil {
		return err
	}
	if err := writeDeltas(ctx, tx, d.offices, addOffice, len(Measures)); err != nil {
		return err
	}
	if err := writeDeltas(ctx, tx, d.officeTopic, addOfficeTopic, 2); err != nil {
		return err
	}
	return writeDeltas(ctx, tx, d.topics, addTopic, 2)
}

// writeDeltas queues query (an upsertAdd) for each row of m whose
// difference is not zero, with its first n sums, in key order.
func writeDeltas[K interface {
	comparable
	args() []any
}](ctx context.Context, tx pgx.Tx, m map[K]*Sums, query string, n int) error {
	type row struct {
		args []any
		key  string
	}
	var rows []row
	for k, s := range m {
		if *s == (Sums{}) {
			continue
		}
		args := k.args()
		for _, v := range s[:n] {
			args = append(args, v)
		}
		rows = append(rows, row{args, fmt.Sprint(k.args()...)})
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(a.key, b.key) })
	for _, r := range rows {
		if err := pgdb.Later(ctx, tx, query, r.args...); err != nil {
			return fmt.Errorf("store: aggregates: %w", err)
		}
	}
	return nil
}

// addFigures, addDepartment, addTopic and addOffice add a difference to an
// aggregate row.
var (
	addFigures     = upsertAdd("monthly_figures", []string{"county", "month", "township", "channel", "class"}, Measures)
	addDepartment  = upsertAdd("monthly_departments", []string{"county", "month", "township", "department"}, Measures)
	addTopic       = upsertAdd("monthly_topics", []string{"county", "month", "township", "topic"}, []string{"cases", "persons"})
	addOffice      = upsertAdd("monthly_offices", []string{"county", "office", "month", "township", "department", "channel", "class"}, Measures)
	addOfficeTopic = upsertAdd("monthly_office_topics", []string{"county", "office", "month", "topic"}, []string{"cases", "persons"})
)

func upsertAdd(table string, keys, measures []string) string {
	cols := append(slices.Clone(keys), measures...)
	ph := make([]string, len(cols))
	for i := range cols {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	set := make([]string, len(measures))
	for i, m := range measures {
		set[i] = fmt.Sprintf("%s = a.%s + EXCLUDED.%s", m, m, m)
	}
	pk := slices.Clone(keys)
	if table == "monthly_departments" {
		pk = []string{"county", "month", "department", "township"}
	}
	return `INSERT INTO ` + table + ` AS a (` + strings.Join(cols, ", ") + `) VALUES (` + strings.Join(ph, ", ") + `)
		ON CONFLICT (` + strings.Join(pk, ", ") + `) DO UPDATE SET ` + strings.Join(set, ", ")
}
