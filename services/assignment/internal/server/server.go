// Package server implements tongban.assignment.v1.AssignmentService. Every
// move of a case takes one path (moves.go: moveCase and transition); the
// methods are grouped by what they decide: routing and hand-overs
// (routing.go), acceptance, answers and closing (answers.go), evaluation,
// review and re-review (reviews.go), co-handlers, contributions, urgency and
// leaders (charge.go). Reads are in reads.go, the moves a caller may make in
// guards.go, the offices in offices.go, the filtered feed for integrators in
// events.go, the consumers of intake's and scheduling's feeds in feeds.go,
// and the mapping to protos in convert.go.
package server

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	"github.com/tongban/tongban/services/assignment/internal/store"
	"github.com/tongban/tongban/services/assignment/lifecycle"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/ruleset"
	"github.com/tongban/tongban/services/devkit/democlock"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/textnorm"
)

// Limits on free text.
const (
	maxReason = 2000
	maxAnswer = 20000
)

// Server implements AssignmentService.
type Server struct {
	assignmentv1.UnimplementedAssignmentServiceServer
	Store *store.Store
	Dir   *directory.Directory
	Rules *ruleset.RuleSet
	// cal is the official calendar with the notices loaded at run time.
	cal atomic.Pointer[calendar.Calendar]
	// SendBackLimit is the send-back of a case, counted across every organ,
	// that sends it to the petition bureau instead of back (the rule set's).
	SendBackLimit int
	// Now is the clock of periods (injectable for tests).
	Now func() time.Time
	// Subjects reads subjects from intake for case cards; nil leaves them
	// empty.
	Subjects Subjects
}

// New returns a server over st and dir, with the county's rule set.
func New(st *store.Store, dir *directory.Directory) (*Server, error) {
	rules, err := ruleset.Get(dir.County.RuleSet)
	if err != nil {
		return nil, err
	}
	s := &Server{Store: st, Dir: dir, Rules: rules, SendBackLimit: rules.SendBackLimit, Now: now}
	s.cal.Store(calendar.Official())
	return s, nil
}

// Calendar is the calendar the periods are computed on.
func (s *Server) Calendar() *calendar.Calendar { return s.cal.Load() }

// LoadCalendar adds the holiday notices loaded at run time (kept from
// scheduling's feed) to the official calendar.
func (s *Server) LoadCalendar(ctx context.Context) error {
	texts, err := s.Store.HolidayNotices(ctx, s.Store.Pool)
	if err != nil {
		return err
	}
	c, err := calendar.Build(texts, nil)
	if err != nil {
		return err
	}
	s.cal.Store(c)
	return nil
}

func optionalText(v *fault.Violations, field, val string, max int) {
	if val != "" {
		requireText(v, field, val, max)
	}
}

// requireText checks a person's text as textnorm reads it: a reason of
// ideographic or zero-width spaces is no reason.
func requireText(v *fault.Violations, field, val string, max int) {
	switch n := utf8.RuneCountInString(textnorm.Clean(val)); {
	case n == 0:
		v.Add(field, "is required")
	case n > max:
		v.Add(field, "must be at most "+strconv.Itoa(max)+" characters")
	}
}

// now is the wall clock at the database's precision, so documents and
// columns carry the same instants.
func now() time.Time { return time.Now().Truncate(time.Microsecond) }

// now is the time of the call: Now, or the demo clock's time when a
// demonstration load backdates the call (see democlock).
func (s *Server) now(ctx context.Context) time.Time { return democlock.Now(ctx, s.Now) }

// orderedActions are the lifecycle's actions in their enum order.
var orderedActions = slices.Sorted(maps.Keys(lifecycle.Rules))
