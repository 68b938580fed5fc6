// Package server implements tongban.intake.v1.IntakeService: registration
// with its CaseRegistered event (register.go), the caller-scoped reads
// (reads.go, views in convert.go), corrections (update.go), repeats
// (repeats.go), attachments (attachments.go), bulk import (import.go,
// bulk.go), the petitioner's progress lookup (progress.go), and the
// consumer that projects assignment's moves onto intake's cases with the
// retention job (feeds.go).
package server

import (
	"context"
	"sync/atomic"
	"time"
	_ "time/tzdata" // Asia/Shanghai on machines without zoneinfo

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/ruleset"
	"github.com/tongban/tongban/services/devkit/democlock"
	"github.com/tongban/tongban/services/intake/internal/store"
	"github.com/tongban/tongban/services/platform/blob"
)

// China has one time zone; case-number years and dates follow it.
var shanghai = mustZone("Asia/Shanghai")

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// Server implements IntakeService.
type Server struct {
	intakev1.UnimplementedIntakeServiceServer
	Store *store.Store
	Dir   *directory.Directory
	Rules *ruleset.RuleSet
	// Blobs keeps attachments' bytes.
	Blobs blob.Store
	// DurableReadAudit makes every read of identity wait for its audit
	// entry to reach the disk (INTAKE_DURABLE_READ_AUDIT=true); by default
	// read entries commit without waiting for the flush (see auditReads).
	DurableReadAudit bool
	// RepeatWindow is how far back a new case looks for the earlier case of
	// the same petitioner and matter (重复信访).
	RepeatWindow time.Duration
	// Now is the clock (tests may fix it).
	Now func() time.Time
	// bulkRows is the rows of an import's set-based batch (bulkBatch when
	// 0; tests make it small).
	bulkRows int
	// analyzeRows is the registered rows of an import after which intake
	// analyzes its tables (analyzeAfterRows when 0; tests make it small);
	// analyzing is set while it does.
	analyzeRows int
	analyzing   atomic.Bool
	// lookups bounds FindRepeats per account.
	lookups lookupLimiter
}

// DefaultRepeatWindow is the repeat window unless configured.
const DefaultRepeatWindow = 180 * 24 * time.Hour

// New returns a server over st, dir and blobs, with the county's rule set.
func New(st *store.Store, dir *directory.Directory, blobs blob.Store) (*Server, error) {
	rules, err := ruleset.Get(dir.County.RuleSet)
	if err != nil {
		return nil, err
	}
	return &Server{Store: st, Dir: dir, Rules: rules, Blobs: blobs, RepeatWindow: DefaultRepeatWindow, Now: time.Now}, nil
}

// now is the time of the call, to the microsecond PostgreSQL stores: Now,
// or the demo clock's time when a demonstration load backdates the call.
func (s *Server) now(ctx context.Context) time.Time {
	return democlock.Now(ctx, s.Now).Truncate(time.Microsecond)
}
