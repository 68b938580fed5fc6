// Package server implements tongban.scheduling.v1.SchedulingService: the
// working-day calendar (calendar.go), the statutory clocks of every case
// driven by assignment's event feed (clocks.go), their reminders and
// supervision (督办, jobs.go), the deadline reads (reads.go) and each office's
// agenda (agenda.go). Reception days and appointments are package
// reception, embedded here.
package server

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	schedulingv1 "github.com/tongban/tongban/proto/tongban/scheduling/v1"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/ruleset"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/idempotency"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/scheduling/internal/reception"
	"github.com/tongban/tongban/services/scheduling/internal/store"
)

// unimplemented sits a level below the embedded reception.Server, so that
// its methods win over the generated stubs.
type unimplemented struct {
	schedulingv1.UnimplementedSchedulingServiceServer
}

// Server implements SchedulingService.
type Server struct {
	unimplemented
	// The reception days, applications, notices and appointments: its
	// methods are this service's.
	*reception.Server
	Store *store.Store
	Dir   *directory.Directory
	Rules *ruleset.RuleSet
	// RemindWorkingDays is how many working days before a deadline the
	// office is reminded.
	RemindWorkingDays int
	// Now is the clock of the jobs (injectable for tests).
	Now func() time.Time

	cal      atomic.Pointer[calendar.Calendar] // official data + loaded notices + local days off
	mu       sync.Mutex                        // guards localKey
	localKey string                            // the notices and local days off cal was built with
}

// New returns a server over st for the county of dir.
func New(st *store.Store, dir *directory.Directory) (*Server, error) {
	rules, err := ruleset.Get(dir.County.RuleSet)
	if err != nil {
		return nil, err
	}
	s := &Server{Store: st, Dir: dir, Rules: rules, RemindWorkingDays: 3, Now: time.Now}
	s.Server = &reception.Server{
		Store: st, Dir: dir, Calendar: s.Calendar, Now: func() time.Time { return s.Now() },
		Notifier: reception.RecordOnly{}, Mutate: s.mutate,
	}
	s.cal.Store(calendar.Official())
	return s, nil
}

// Calendar is the calendar in force: the official notices and the county's
// local days off.
func (s *Server) Calendar() *calendar.Calendar { return s.cal.Load() }

// mutate runs fn once per request id (a retry gets the first answer, out)
// in a transaction that also records the change in the audit log.
func (s *Server) mutate(ctx context.Context, caller auth.Caller, method, rid, caseNumber string, req, out proto.Message, fn func(tx pgx.Tx) error) error {
	return pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		_, err := idempotency.Do(ctx, tx, idempotency.Key{Scope: caller.Office.ID, Method: method, RequestID: rid}, req, out, func() error {
			if err := audit.Append(ctx, tx, audit.FromCall(ctx, audit.Schedule, caseNumber, rid, "method="+method)); err != nil {
				return err
			}
			return fn(tx)
		})
		return err
	})
}

// sortBy sorts xs by key, stably.
func sortBy[T any](xs []T, key func(T) string) {
	slices.SortStableFunc(xs, func(a, b T) int { return strings.Compare(key(a), key(b)) })
}
