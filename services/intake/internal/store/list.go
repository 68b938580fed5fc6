package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tongban/tongban/services/platform/pagination"
)

// Order is the order of a list.
type Order int

// Orders of a list.
const (
	NewestRegistered Order = iota // create_time desc
	NewestReceived                // receive_time desc
	OldestReceived                // receive_time asc
)

// ListFilter selects the cases a caller may see (every case of County when
// AllOfCounty, otherwise the cases Office registered or held) and narrows
// them; zero fields do not filter.
type ListFilter struct {
	County      string
	AllOfCounty bool
	Office      string

	State           int16
	Township        string
	Channel         int16
	Class           int16
	From, To        time.Time
	SubjectContains string
	Order           Order
	// After is the keyset of the previous page's last row.
	After *pagination.Keyset
	// WithPetitioners loads (and opens) the petitioners.
	WithPetitioners bool
}

// KeysetOf returns c's position in order o.
func KeysetOf(c *Case, o Order) pagination.Keyset {
	if o == NewestRegistered {
		return pagination.Keyset{Time: c.CreateTime, Key: c.Number}
	}
	return pagination.Keyset{Time: c.ReceiveTime, Key: c.Number}
}

// List returns up to limit cases in f's order, without history (and
// without content and petitioners unless f.WithPetitioners: the FULL view).
// Only the filters in use become SQL, each with a bind parameter, so the
// planner walks the order's index and stops at limit.
func (s *Store) List(ctx context.Context, f ListFilter, limit int) ([]*Case, error) {
	orders := map[Order]struct{ col, cmp, dir string }{
		NewestRegistered: {"create_time", "<", "DESC"},
		NewestReceived:   {"receive_time", "<", "DESC"},
		OldestReceived:   {"receive_time", ">", "ASC"},
	}
	o := orders[f.Order]
	args := []any{f.County}
	where := []string{"county = $1"}
	add := func(cond string, v ...any) {
		for _, a := range v {
			args = append(args, a)
			cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1)
		}
		where = append(where, cond)
	}
	if !f.AllOfCounty {
		add("involved_offices @> ARRAY[?]::text[]", f.Office)
	}
	if f.State != 0 {
		add("state = ?", f.State)
	}
	if f.Township != "" {
		add("township = ?", f.Township)
	}
	if f.Channel != 0 {
		add("channel = ?", f.Channel)
	}
	if f.Class != 0 {
		add("case_class = ?", f.Class)
	}
	if !f.From.IsZero() {
		add("receive_time >= ?", f.From)
	}
	if !f.To.IsZero() {
		add("receive_time < ?", f.To)
	}
	if f.SubjectContains != "" {
		add("strpos(subject, ?) > 0", f.SubjectContains)
	}
	if f.After != nil {
		add("("+o.col+", case_number) "+o.cmp+" (?, ?)", f.After.Time, f.After.Key)
	}
	columns := caseColumns
	if !f.WithPetitioners {
		columns = strings.Replace(columns, "subject, content,", "subject, ''::text AS content,", 1)
	}
	args = append(args, limit)
	q := `SELECT ` + columns + ` FROM cases WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY ` + o.col + ` ` + o.dir + `, case_number ` + o.dir + ` LIMIT $` + strconv.Itoa(len(args))
	rows, err := s.Pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store.List: %w", err)
	}
	defer rows.Close()
	var out []*Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, fmt.Errorf("store.List: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store.List: %w", err)
	}
	if !f.WithPetitioners || len(out) == 0 {
		return out, nil
	}
	numbers := make([]string, len(out))
	for i, c := range out {
		numbers[i] = c.Number
	}
	ps, err := s.petitioners(ctx, numbers)
	if err != nil {
		return nil, err
	}
	for _, c := range out {
		c.Petitioners = ps[c.Number]
	}
	return out, nil
}
