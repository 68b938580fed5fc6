package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/intake/internal/store"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/logging"
	"github.com/tongban/tongban/services/platform/names"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pgdb"
)

// bulkWriters is how many of an import's batches are written at once: the
// two transactions overlap one's Go work (sealing identity, events, the
// audit chain) and its commit's flush with the other's SQL.
const bulkWriters = 2

// bulkImport registers rows (none with a request id) set-based, with the
// same outcome per row as register: a number from the sequence, repeat
// detection against the database and the rows before it, the case and its
// sealed petitioners, the CaseRegistered event, the audit entry. It
// prepares every row at once (which (source system, external id) pairs are
// registered, the numbers, the repeat links), then writes batches of
// bulkRows rows, bulkWriters at a time. A batch whose rows repeat a case of
// an earlier batch waits for that batch's commit (repeat_of refers to it).
// A batch that fails as a whole (a concurrent twin, a link to a row that
// could not be registered) is registered row by row instead, each row with
// its own outcome and its repeat links looked up again. Rows whose pair
// exists, in the database or earlier in the rows, are left to settle as
// EXISTING.
func (s *Server) bulkImport(ctx context.Context, caller auth.Caller, rows []*importRow, now time.Time) {
	if len(rows) == 0 {
		return
	}
	todo, cases, err := s.prepareBulk(ctx, rows, now)
	if err != nil {
		logging.FromContext(ctx).WarnContext(ctx, "import: preparing the rows failed; registering them one by one", slog.String("error", err.Error()))
		s.perRow(ctx, caller, rows, now)
		return
	}
	size := s.bulkRows
	if size <= 0 {
		size = bulkBatch
	}
	batchOf := make(map[string]int, len(cases))
	for i, c := range cases {
		batchOf[c.Number] = i / size
	}
	batches := (len(cases) + size - 1) / size
	done := make([]chan struct{}, batches)
	writers := make(chan struct{}, bulkWriters)
	var wg sync.WaitGroup
	for b := range batches {
		done[b] = make(chan struct{})
		lo, hi := b*size, min((b+1)*size, len(cases))
		after := -1 // the last earlier batch this one's rows repeat a case of
		for _, c := range cases[lo:hi] {
			if j, ok := batchOf[c.RepeatOf]; ok && j < b {
				after = max(after, j)
			}
		}
		writers <- struct{}{} // batches start in order, so the one waited for has started
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-writers }()
			defer close(done[b])
			if after >= 0 {
				<-done[after]
			}
			if err := s.writeBulk(ctx, cases[lo:hi]); err != nil {
				logging.FromContext(ctx).WarnContext(ctx, "import: a batch failed as a whole; registering its rows one by one",
					slog.Int("first_line", todo[lo].line), slog.String("error", err.Error()))
				s.perRow(ctx, caller, todo[lo:hi], now)
				return
			}
			for i, r := range todo[lo:hi] {
				r.res.Outcome, r.res.Name = intakev1.ImportOutcome_IMPORT_OUTCOME_REGISTERED, names.Case(cases[lo+i].Number)
			}
		}()
	}
	wg.Wait()
}

// prepareBulk returns the rows bulkImport registers and their cases,
// numbered, created now and linked to the cases they repeat; the other rows
// have r.err set.
func (s *Server) prepareBulk(ctx context.Context, rows []*importRow, now time.Time) (todo []*importRow, cases []*store.Case, err error) {
	err = pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		todo, cases = nil, nil // a retried transaction starts over
		for _, r := range rows {
			r.res.Outcome, r.res.Name, r.err = intakev1.ImportOutcome_IMPORT_OUTCOME_UNSPECIFIED, "", nil
		}
		taken, err := s.Store.ExistingExternal(ctx, tx, externalPairs(rows))
		if err != nil {
			return err
		}
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
		numbers, err := s.Store.NextNumbers(ctx, tx, s.Dir.County.Code, now.In(shanghai).Year(), len(todo))
		if err != nil {
			return err
		}
		created := time.Now().UTC().Truncate(time.Microsecond)
		for i, r := range todo {
			c := *r.c
			c.Number, c.CreateTime, c.UpdateTime, c.Version = numbers[i], created, created, 1
			cases = append(cases, &c)
		}
		return s.linkRepeats(ctx, tx, cases)
	})
	return todo, cases, err
}

// writeBulk writes prepared cases in one transaction: the cases and their
// petitioners, their events, their audit entries.
func (s *Server) writeBulk(ctx context.Context, cases []*store.Case) error {
	return pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		events := make([]*eventsv1.Event, len(cases))
		entries := make([]audit.Entry, len(cases))
		for i, c := range cases {
			events[i] = s.registered(c)
			entries[i] = audit.FromCall(ctx, audit.Register, c.Number, "", "import "+registerDetail(c))
		}
		if err := s.Store.CopyCases(ctx, tx, cases); err != nil {
			return err
		}
		if err := outbox.AppendAll(ctx, tx, events); err != nil {
			return err
		}
		return audit.Append(ctx, tx, entries...)
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
