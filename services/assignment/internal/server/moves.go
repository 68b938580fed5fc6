package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/assignment/internal/store"
	"github.com/tongban/tongban/services/assignment/lifecycle"
	"github.com/tongban/tongban/services/county/caseversion"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/devkit/democlock"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/idempotency"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/precondition"
)

// move is what one method adds to the path every move takes (moveCase):
// the action, the note of its history entry, and its own checks and changes.
type move struct {
	action lifecycle.Action
	note   string
	// apply checks what the state machine cannot (targets, periods, what
	// the case already holds) and changes the case beyond its state: holder,
	// pending organ, documents. It may rewrite the entry (e.g. a send-back
	// that becomes an escalation) and the state.
	apply func(ctx context.Context, tx pgx.Tx, c *store.Case, caller auth.Caller, e *store.Entry) error
}

// moveRequest is what the request of every move carries.
type moveRequest interface {
	proto.Message
	GetName() string
	GetEtag() string
	GetRequestId() string
}

// moveCase is the one path of every move method: v holds the method's own
// violations, m its action and changes; the response R (a message whose one
// field is the moved case) is filled by its descriptor, so every method is
// its checks and its move, nothing else.
func moveCase[T any, R interface {
	*T
	proto.Message
}](ctx context.Context, s *Server, req moveRequest, v *fault.Violations, m move) (R, error) {
	c, err := s.transition(ctx, v, req, m)
	if err != nil {
		return nil, err
	}
	resp := R(new(T)).ProtoReflect()
	resp.Set(resp.Descriptor().Fields().ByName("case"), protoreflect.ValueOfMessage(c.ProtoReflect()))
	return resp.Interface().(R), nil
}

// methodOf is the gRPC method a move request belongs to ("RouteCase" for a
// RouteCaseRequest): the name its idempotency keys are stored under.
func methodOf(req proto.Message) string {
	return strings.TrimSuffix(string(req.ProtoReflect().Descriptor().Name()), "Request")
}

func refuse(reason, msg string, kv ...string) error {
	return fault.New(fault.FailedPrecondition, reason, msg, kv...)
}

// transition runs one move: validation (v already holds the method's own
// violations), then in one transaction the idempotency check, the case
// locked FOR UPDATE, visibility, etag, the state machine, the method's own
// checks and changes, the new row, the history entry and the CaseMoved
// event.
func (s *Server) transition(ctx context.Context, v *fault.Violations, req moveRequest, m move) (*assignmentv1.Case, error) {
	// The role first: a caller whose role may never do this learns nothing
	// of the case.
	caller, err := policy.Require(ctx, policy.VerbOf(m.action))
	if err != nil {
		return nil, err
	}
	num, ok := names.CaseNumber(req.GetName())
	if !ok {
		v.Add("name", names.CaseNumberHint)
	}
	rid := idempotency.Checked(ctx, req.GetRequestId(), v)
	etag := precondition.Etag(ctx, req.GetEtag(), v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	out := &assignmentv1.Case{}
	key := idempotency.Key{Scope: caller.Office.ID, Method: methodOf(req), RequestID: rid}
	err = pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		// The case is locked before anything is written, so the transaction
		// takes its id only once every earlier move of the case (and its
		// registration) has committed: assignment's feed is ordered by
		// transaction id, and a claim written first could take an id
		// before the registration's commit and list this move before it
		// (seen in the fault test: scheduling applied REGISTER after
		// REFER_UP and restarted the routing clock at the township).
		c, err := s.Store.Lock(ctx, tx, num)
		if err != nil {
			return err
		}
		_, err = idempotency.Do(ctx, tx, key, req, out, func() error {
			to, err := s.decide(ctx, caller, m.action, c)
			if errors.Is(err, policy.ErrNotVisible) {
				return store.ErrNotFound // the same answer as a missing case
			}
			if err := caseversion.Check(etag, version(c), caseversion.Moves); err != nil {
				return err
			}
			if err != nil {
				return stateError(err, m.action, c)
			}
			e := &store.Entry{
				CaseNumber: c.Number, Action: int16(m.action), ActorOffice: caller.Office.ID, ActorRole: caller.Role,
				FromState: c.State, FromOffice: c.Holder, Note: m.note, RequestID: rid,
			}
			c.State = int16(to)
			if err := m.apply(ctx, tx, c, caller, e); err != nil {
				return err
			}
			for _, o := range []string{c.Holder, c.Pending} {
				if o != "" && !slices.Contains(c.Involved, o) {
					c.Involved = append(c.Involved, o)
				}
			}
			if err := s.Store.Save(ctx, tx, c); err != nil {
				return err
			}
			e.Time, e.ToState, e.ToOffice = c.UpdateTime, c.State, c.Holder
			if t, ok := democlock.From(ctx); ok {
				e.Time = t // a demonstration load backdates the move
			}
			if err := s.Store.AddEntry(ctx, tx, e); err != nil {
				return err
			}
			if err := audit.Append(ctx, tx, audit.FromCall(ctx, audit.Move, c.Number, rid, fmt.Sprintf("action=%s from=%s to=%s holder=%s",
				lifecycle.Action(e.Action), lifecycle.State(e.FromState), lifecycle.State(e.ToState), e.ToOffice))); err != nil {
				return err
			}
			proto.Reset(out)
			proto.Merge(out, s.withActions(ctx, caller, c))
			out.Etag = version(c).Echo(etag).Etag() // a correction the client made may not have reached us yet
			return publishMove(ctx, tx, c, e)
		})
		return err
	})
	if err != nil {
		return nil, fault.Named(err, "name", req.GetName())
	}
	return out, nil
}

// publishMove writes the CaseMoved event of entry e.
func publishMove(ctx context.Context, tx pgx.Tx, c *store.Case, e *store.Entry) error {
	return outbox.Append(ctx, tx, moveEvent(c, e))
}

// moveEvent is the CaseMoved event of entry e, with the facts the clocks
// need (scheduling follows this feed).
func moveEvent(c *store.Case, e *store.Entry) *eventsv1.Event {
	mv := &eventsv1.CaseMoved{
		County: c.County, Township: c.Township, Entry: entryProto(e), CaseClass: intakev1.CaseClass(c.Class),
	}
	switch lifecycle.Action(e.Action) {
	case lifecycle.Register:
		if !c.ReceiveTime.IsZero() {
			mv.ReceiveTime = timestamppb.New(c.ReceiveTime)
		}
	case lifecycle.SignFor:
		if !e.Received.IsZero() {
			mv.ReceiveTime = timestamppb.New(e.Received)
		}
	case lifecycle.Extend:
		mv.ExtensionDays = c.Docs.GetExtension().GetDays()
	case lifecycle.AssignDown:
		mv.ReportDue = c.Docs.GetAssignment().GetReportDue()
	case lifecycle.Evaluate:
		mv.Rating = c.Docs.GetEvaluation().GetRating()
	case lifecycle.TakeLead:
		mv.LeadAccount = c.Docs.GetLead().GetLeaderAccount()
	}
	return &eventsv1.Event{
		CaseNumber: c.Number,
		OccurTime:  timestamppb.New(e.Time),
		Payload:    &eventsv1.Event_CaseMoved{CaseMoved: mv},
	}
}

func stateError(err error, action lifecycle.Action, c *store.Case) error {
	switch {
	case lifecycle.State(c.State) == lifecycle.Final && !errors.Is(err, lifecycle.ErrKind):
		return refuse("CASE_FINAL", "the case was finally closed after re-review (三级终结); the same request on the same facts and reasons is not accepted again (信访工作条例 第三十六条第三款)",
			"state", assignmentv1.CaseState(c.State).String(), "action", action.String())
	case errors.Is(err, lifecycle.ErrNotCo):
		return fault.New(fault.PermissionDenied, "NOT_CO_HANDLER", "only a co-handling department (协办) may do this")
	case errors.Is(err, lifecycle.ErrNotPending):
		return fault.New(fault.PermissionDenied, "NOT_PENDING_OFFICE", "only the organ the transfer waits on may do this; it waits on "+names.Office(c.Pending),
			"pending_office", names.Office(c.Pending))
	case errors.Is(err, lifecycle.ErrState):
		return fault.New(fault.FailedPrecondition, "CASE_STATE_CONFLICT",
			"a case in state "+assignmentv1.CaseState(c.State).String()+" does not allow "+action.String(),
			"state", assignmentv1.CaseState(c.State).String(), "action", action.String())
	case errors.Is(err, lifecycle.ErrNotHolder):
		return fault.New(fault.PermissionDenied, "NOT_HOLDER", "only the office holding the case may do this; it is held by "+names.Office(c.Holder),
			"holder_office", names.Office(c.Holder))
	case errors.Is(err, lifecycle.ErrKind):
		return fault.New(fault.PermissionDenied, "OFFICE_KIND_NOT_ALLOWED", "your kind of office may not "+action.String(), "action", action.String())
	}
	return err
}
