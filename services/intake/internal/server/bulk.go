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
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/intake/internal/store"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/logging"
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
// sealed petitioners, the CaseRegistered event, the audit entry.
//
// It draws every row's number at once, then works through batches of
// bulkRows rows in order: it links the batch against the database's repeat
// candidates and every earlier row, while up to bulkWriters earlier batches
// are being written. With prefetched, the candidates are found, looked up
// while the rows were received (and each row has its hashes); without, they
// are looked up batch by batch. A batch whose rows repeat a case of an
// earlier batch waits for that batch's commit (repeat_of refers to it). A
// batch that fails as a whole (a concurrent twin, a link to a row that could
// not be registered) is registered row by row instead, each row with its own
// outcome and its repeat links looked up again. Rows whose (source system,
// external id) exists, in the database or earlier in the rows, are left to
// settle as EXISTING.
func (s *Server) bulkImport(ctx context.Context, caller auth.Caller, rows []*importRow, now time.Time, found []store.Candidate, prefetched bool) {
	if len(rows) == 0 {
		return
	}
	log := logging.FromContext(ctx)
	todo, cases, err := s.numberBulk(ctx, rows, now)
	if err != nil {
		log.WarnContext(ctx, "import: numbering the rows failed; registering them one by one", slog.String("error", err.Error()))
		s.perRow(ctx, caller, rows, now)
		return
	}
	size := s.batchRows()
	pool := newRepeatPool(s.RepeatWindow)
	pool.addFound(found)
	batchOf := make(map[string]int, len(cases))
	batches := (len(cases) + size - 1) / size
	done := make([]chan struct{}, batches)
	writers := make(chan struct{}, bulkWriters)
	var wg sync.WaitGroup
	defer wg.Wait()
	for b := range batches {
		lo, hi := b*size, min((b+1)*size, len(cases))
		if prefetched {
			for i, c := range cases[lo:hi] {
				pool.link(c, todo[lo+i].hashes)
			}
		} else if err := s.lookUpRepeats(ctx, cases[lo:hi], pool); err != nil {
			// Later batches could not be linked against this one: the rest
			// is registered row by row once the writers are done.
			log.WarnContext(ctx, "import: the repeat look-up failed; registering the rest row by row", slog.String("error", err.Error()))
			wg.Wait()
			s.perRow(ctx, caller, todo[lo:], now)
			return
		}
		after := -1 // the last earlier batch whose cases this one's rows repeat
		for _, c := range cases[lo:hi] {
			if j, ok := batchOf[c.RepeatOf]; ok {
				after = max(after, j)
			}
		}
		for _, c := range cases[lo:hi] {
			batchOf[c.Number] = b
		}
		done[b] = make(chan struct{})
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
				log.WarnContext(ctx, "import: a batch failed as a whole; registering its rows one by one",
					slog.Int("first_line", todo[lo].line), slog.String("error", err.Error()))
				s.perRow(ctx, caller, todo[lo:hi], now)
				return
			}
			for i, r := range todo[lo:hi] {
				r.res.Outcome, r.res.Name = intakev1.ImportOutcome_IMPORT_OUTCOME_REGISTERED, names.Case(cases[lo+i].Number)
			}
		}()
	}
}

// numberBulk returns the rows bulkImport registers and their cases,
// numbered and created now; the other rows (an external id registered
// already, or earlier in the rows) have r.err set.
func (s *Server) numberBulk(ctx context.Context, rows []*importRow, now time.Time) (todo []*importRow, cases []*store.Case, err error) {
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
		return nil
	})
	return todo, cases, err
}

// lookUpRepeats links cases against the database's candidates and pool
// (the rows before them), outside any transaction: the rows of batches
// still being written are in pool.
func (s *Server) lookUpRepeats(ctx context.Context, cases []*store.Case, pool *repeatPool) error {
	r := s.newRepeatLookup(cases)
	if err := r.send(ctx, s.Store.Pool); err != nil {
		return err
	}
	r.linkInto(pool)
	return nil
}

// batchRows is the rows of an import's set-based batch, and of its
// prefetched look-ups.
func (s *Server) batchRows() int {
	if s.bulkRows > 0 {
		return s.bulkRows
	}
	return bulkBatch
}

// repeatPrefetch looks up the database's repeat candidates of an import's
// rows while the rest is still being received, a chunk at a time, so that
// the look-up's time overlaps the receipt's (and the first batch is written
// sooner).
type repeatPrefetch struct {
	s      *Server
	ctx    context.Context
	chunk  []*importRow
	chunks chan []*importRow // nil once closed
	done   chan struct{}
	// found and err are the look-ups' once done is closed.
	found []store.Candidate
	err   error
}

func (s *Server) prefetchRepeats(ctx context.Context) *repeatPrefetch {
	p := &repeatPrefetch{s: s, ctx: ctx, chunks: make(chan []*importRow, 1), done: make(chan struct{})}
	go p.run(p.chunks)
	return p
}

func (p *repeatPrefetch) run(chunks <-chan []*importRow) {
	defer close(p.done)
	for rows := range chunks {
		if p.err != nil {
			continue
		}
		cases := make([]*store.Case, len(rows))
		for i, r := range rows {
			cases[i] = r.c
		}
		l := p.s.newRepeatLookup(cases)
		for i, r := range rows {
			r.hashes = l.hashes[i]
		}
		if p.err = l.send(p.ctx, p.s.Store.Pool); p.err == nil {
			p.found = append(p.found, l.found...)
		}
	}
}

// add queues r's look-up; r.c must not change from here on.
func (p *repeatPrefetch) add(r *importRow) {
	p.chunk = append(p.chunk, r)
	if len(p.chunk) == p.s.batchRows() {
		p.chunks <- p.chunk
		p.chunk = nil
	}
}

// wait returns the candidates of every row added, once looked up.
func (p *repeatPrefetch) wait() ([]store.Candidate, error) {
	if p.chunks != nil && len(p.chunk) > 0 {
		p.chunks <- p.chunk
		p.chunk = nil
	}
	p.stop()
	<-p.done
	return p.found, p.err
}

// stop ends the look-ups after the chunks sent so far.
func (p *repeatPrefetch) stop() {
	if p.chunks != nil {
		close(p.chunks)
		p.chunks = nil
	}
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
