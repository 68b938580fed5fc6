package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/intake/internal/store"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/idempotency"
	"github.com/tongban/tongban/services/platform/logging"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

// Import limits.
const (
	maxImportRows = 10000
	// importBatch rows share a transaction; each row has its own savepoint,
	// so a failing row never leaves half of itself and never takes its
	// neighbours down.
	importBatch = 200
	// bulkBatch rows without request ids are registered set-based in one
	// transaction (see bulkImport).
	bulkBatch = 1000
)

type importRow struct {
	line int
	req  *intakev1.CreateCaseRequest
	c    *store.Case
	res  *intakev1.ImportResult
	err  error // why a valid row was not registered
	// hashes are the keyed hashes of the petitioners (see repeatLookup),
	// once prefetched.
	hashes [][2][]byte
}

// ImportCases registers a stream of cases.
func (s *Server) ImportCases(stream grpc.ClientStreamingServer[intakev1.ImportCasesRequest, intakev1.ImportCasesResponse]) error {
	ctx := stream.Context()
	caller, err := registrar(ctx)
	if err != nil {
		return err
	}
	now := s.Now().Truncate(time.Microsecond)
	var rows []*importRow
	var validateOnly, allOrNothing bool
	prefetch := s.prefetchRepeats(ctx)
	defer prefetch.stop()
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if len(rows) == maxImportRows {
			var v fault.Violations
			v.Add("case", fmt.Sprintf("an import takes at most %d rows; split the file", maxImportRows))
			return v.Err()
		}
		if len(rows) == 0 {
			validateOnly, allOrNothing = msg.GetValidateOnly(), msg.GetAllOrNothing()
		}
		row := &importRow{line: len(rows) + 1, req: &intakev1.CreateCaseRequest{Case: msg.GetCase(), RequestId: msg.GetRequestId()}}
		row.res = &intakev1.ImportResult{Line: int32(row.line)}
		if err := s.validate(caller.Office.ID, row.req, now); err != nil {
			row.res.Outcome = intakev1.ImportOutcome_IMPORT_OUTCOME_REJECTED
			row.res.Violations = violationsOf(err)
		} else {
			row.c = s.newCase(caller, msg.GetCase(), now)
			if !validateOnly && !allOrNothing && row.req.GetRequestId() == "" {
				prefetch.add(row) // one of bulkImport's
			}
		}
		rows = append(rows, row)
	}
	if err := s.Store.PrepareNumbers(ctx, s.Dir.County.Code, now.In(shanghai).Year()); err != nil {
		return err
	}
	valid := rows[:0:0]
	for _, r := range rows {
		if r.c != nil {
			valid = append(valid, r)
		}
	}
	switch {
	case validateOnly:
		notRegistered(valid, "validate_only: nothing is registered")
	case allOrNothing && len(valid) < len(rows):
		notRegistered(valid, "all_or_nothing: other rows are invalid")
	case allOrNothing:
		if err := s.importBatch(ctx, caller, valid, now, false); err != nil {
			notRegistered(valid, "all_or_nothing: "+rpcerr.Status(err).Message())
		}
	default:
		// Rows with request ids take the per-row path (each its own
		// idempotency record); the others go in set-based batches, after
		// them, so that an external id they share is already visible.
		var keyed, plain []*importRow
		for _, r := range valid {
			if r.req.GetRequestId() != "" {
				keyed = append(keyed, r)
			} else {
				plain = append(plain, r)
			}
		}
		s.perRow(ctx, caller, keyed, now)
		// Unless the prefetch failed or could not see the keyed rows, the
		// bulk path need not look the database's candidates up again.
		found, err := prefetch.wait()
		s.bulkImport(ctx, caller, plain, now, found, err == nil && len(keyed) == 0)
	}
	s.settle(ctx, caller, valid)
	resp := &intakev1.ImportCasesResponse{}
	for _, r := range rows {
		switch r.res.GetOutcome() {
		case intakev1.ImportOutcome_IMPORT_OUTCOME_REGISTERED:
			resp.Registered++
		case intakev1.ImportOutcome_IMPORT_OUTCOME_EXISTING:
			resp.Existing++
		case intakev1.ImportOutcome_IMPORT_OUTCOME_REJECTED:
			resp.Rejected++
		default:
			resp.NotRegistered++
		}
		resp.Results = append(resp.Results, r.res)
	}
	s.analyzeAfterImport(ctx, int(resp.Registered))
	return stream.SendAndClose(resp)
}

// perRow registers rows in transactions of importBatch rows, a savepoint
// each.
func (s *Server) perRow(ctx context.Context, caller auth.Caller, rows []*importRow, now time.Time) {
	for i := 0; i < len(rows); i += importBatch {
		batch := rows[i:min(i+importBatch, len(rows))]
		if err := s.importBatch(ctx, caller, batch, now, true); err != nil {
			notRegistered(batch, rpcerr.Status(err).Message())
		}
	}
}

// importBatch registers rows in one transaction. With perRow, each row has
// a savepoint and a failing row is reported alone; without, any failure
// fails the batch.
func (s *Server) importBatch(ctx context.Context, caller auth.Caller, rows []*importRow, now time.Time, perRow bool) error {
	return pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		for _, r := range rows {
			r.res.Outcome, r.res.Name, r.err = intakev1.ImportOutcome_IMPORT_OUTCOME_UNSPECIFIED, "", nil // a retried transaction starts over
			key := idempotency.Key{Scope: caller.Office.ID, Method: "CreateCase", RequestID: r.req.GetRequestId()}
			c := *r.c
			row := tx
			if perRow {
				sp, err := tx.Begin(ctx)
				if err != nil {
					return err
				}
				row = sp
			}
			num, err := s.register(ctx, row, key, r.req, &c, now)
			if perRow {
				if err != nil {
					if rbErr := row.Rollback(ctx); rbErr != nil {
						return rbErr
					}
					r.err = err // settled after the commit
					continue
				}
				if err := row.Commit(ctx); err != nil {
					return err
				}
			} else if err != nil {
				return fmt.Errorf("line %d: %w", r.line, err)
			}
			r.res.Name = names.Case(num)
			r.res.Outcome = intakev1.ImportOutcome_IMPORT_OUTCOME_REGISTERED
			if num != c.Number {
				r.res.Outcome = intakev1.ImportOutcome_IMPORT_OUTCOME_EXISTING
			}
		}
		return nil
	})
}

// settle reports the rows a batch could not register: those whose (source
// system, external id) was registered before become EXISTING; the others
// NOT_REGISTERED with the error a client may see (internal causes are
// logged, not returned).
func (s *Server) settle(ctx context.Context, caller auth.Caller, rows []*importRow) {
	for _, r := range rows {
		if r.err == nil {
			continue
		}
		err := r.err
		if errors.Is(err, store.ErrDuplicateExternal) {
			resp, perr := s.existingReferral(ctx, caller, r.c)
			if perr == nil {
				r.res.Outcome, r.res.Name = intakev1.ImportOutcome_IMPORT_OUTCOME_EXISTING, resp.GetCase().GetName()
				continue
			}
			err = perr
		}
		if _, ok := fault.As(err); !ok {
			logging.FromContext(ctx).ErrorContext(ctx, "import row failed", slog.Int("line", r.line), slog.String("error", err.Error()))
		}
		r.res.Outcome = intakev1.ImportOutcome_IMPORT_OUTCOME_NOT_REGISTERED
		r.res.Error = rpcerr.Status(err).Message()
	}
}

func notRegistered(rows []*importRow, why string) {
	for _, r := range rows {
		r.res.Outcome, r.res.Name, r.res.Error, r.err = intakev1.ImportOutcome_IMPORT_OUTCOME_NOT_REGISTERED, "", why, nil
	}
}

// violationsOf lists the field violations of an INVALID_ARGUMENT.
func violationsOf(err error) []*intakev1.FieldViolation {
	var out []*intakev1.FieldViolation
	if f, ok := fault.As(err); ok {
		for _, v := range f.Fields {
			out = append(out, &intakev1.FieldViolation{Field: v.Field, Description: v.Description})
		}
	}
	return out
}

// analyzeAfterRows is the registered rows of an import after which intake
// analyzes the tables it grew (Store.Analyze): a migration's import into a
// young county multiplies them faster than autovacuum follows.
const analyzeAfterRows = 1000

// analyzeAfterImport analyzes the cases and petitioners in the background
// when an import registered at least analyzeAfterRows rows (one analysis at
// a time; the import's answer does not wait for it). The service's pool
// waits for it on shutdown.
func (s *Server) analyzeAfterImport(ctx context.Context, registered int) {
	threshold := s.analyzeRows
	if threshold == 0 {
		threshold = analyzeAfterRows
	}
	if registered < threshold || !s.analyzing.CompareAndSwap(false, true) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	go func() {
		defer s.analyzing.Store(false)
		defer cancel()
		start := time.Now()
		if err := s.Store.Analyze(ctx); err != nil {
			slog.WarnContext(ctx, "analyze after import", "rows", registered, "err", err)
			return
		}
		slog.InfoContext(ctx, "analyzed after import", "rows", registered, "took", time.Since(start).Round(time.Millisecond))
	}()
}
