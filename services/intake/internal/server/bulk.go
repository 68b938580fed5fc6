package server

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/intake/internal/store"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/names"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pgdb"
)

// bulkRegister registers rows (none with a request id) in one transaction
// with set-based statements, and the same outcome per row as register: a
// number from the sequence, repeat detection against the database and the
// rows before it, the case and its sealed petitioners, the CaseRegistered
// event. Rows whose (source system, external id) exists, in the database
// or earlier in the batch, are left to settle as EXISTING.
func (s *Server) bulkRegister(ctx context.Context, rows []*importRow, now time.Time) error {
	year := now.In(shanghai).Year()
	return pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		for _, r := range rows {
			r.res.Outcome, r.res.Name, r.err = intakev1.ImportOutcome_IMPORT_OUTCOME_UNSPECIFIED, "", nil
		}
		cases := make([]*store.Case, 0, len(rows))
		taken, err := s.Store.ExistingExternal(ctx, tx, externalPairs(rows))
		if err != nil {
			return err
		}
		var todo []*importRow
		for _, r := range rows {
			if k := [2]string{r.c.SourceSystem, r.c.ExternalID}; r.c.SourceSystem != "" {
				if taken[k] {
					r.err = store.ErrDuplicateExternal
					continue
				}
				taken[k] = true
			}
			todo = append(todo, r)
		}
		if len(todo) == 0 {
			return nil
		}
		numbers, err := s.Store.NextNumbers(ctx, tx, s.Dir.County.Code, year, len(todo))
		if err != nil {
			return err
		}
		var created time.Time
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&created); err != nil {
			return err
		}
		for i, r := range todo {
			c := *r.c
			c.Number, c.CreateTime, c.UpdateTime, c.Version = numbers[i], created, created, 1
			cases = append(cases, &c)
		}
		if err := s.linkRepeats(ctx, tx, cases); err != nil {
			return err
		}
		events := make([]*eventsv1.Event, len(cases))
		for i, c := range cases {
			events[i] = s.registered(c)
		}
		if err := s.Store.CopyCases(ctx, tx, cases); err != nil {
			return err
		}
		if err := outbox.AppendAll(ctx, tx, events); err != nil {
			return err
		}
		entries := make([]audit.Entry, len(cases))
		for i, c := range cases {
			entries[i] = audit.FromCall(ctx, audit.Register, c.Number, "", "import "+registerDetail(c))
		}
		if err := audit.Append(ctx, tx, entries...); err != nil {
			return err
		}
		for i, r := range todo {
			r.res.Outcome, r.res.Name = intakev1.ImportOutcome_IMPORT_OUTCOME_REGISTERED, names.Case(cases[i].Number)
		}
		return nil
	})
}

func externalPairs(rows []*importRow) [][2]string {
	var out [][2]string
	for _, r := range rows {
		if r.c.SourceSystem != "" {
			out = append(out, [2]string{r.c.SourceSystem, r.c.ExternalID})
		}
	}
	return out
}

// registered is the CaseRegistered event of c.
func (s *Server) registered(c *store.Case) *eventsv1.Event {
	return &eventsv1.Event{
		CaseNumber: c.Number,
		OccurTime:  timestamppb.New(c.CreateTime),
		Payload: &eventsv1.Event_CaseRegistered{CaseRegistered: &eventsv1.CaseRegistered{
			County:         c.County,
			Township:       c.Township,
			RegisteredBy:   names.Office(c.RegisteredBy),
			RegisteredRole: c.RegisteredRole,
			Channel:        intakev1.Channel(c.Channel),
			CaseClass:      intakev1.CaseClass(c.Class),
			ReceiveTime:    timestamppb.New(c.ReceiveTime),
			RepeatOf:       caseName(c.RepeatOf),
			HeadCount:      c.HeadCount,
			AccusedOffice:  c.Accused,
			Topic:          c.Topic,
			Group:          int(c.HeadCount) >= s.Rules.GroupSize,
		}},
	}
}
