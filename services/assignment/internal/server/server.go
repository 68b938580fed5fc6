// Package server implements tongban.assignment.v1.AssignmentService: the
// transitions of a case, its history and the offices' queues, and the
// consumer that takes registered cases from intake's feed.
package server

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	"github.com/tongban/tongban/services/assignment/internal/lifecycle"
	"github.com/tongban/tongban/services/assignment/internal/store"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/directory"
	"github.com/tongban/tongban/services/platform/idempotency"
	"github.com/tongban/tongban/services/platform/names"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pagination"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/rpcerr"
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
}

// New returns a server over st and dir.
func New(st *store.Store, dir *directory.Directory) *Server {
	return &Server{Store: st, Dir: dir}
}

// move is one transition request, whatever its method.
type move struct {
	method    string
	action    lifecycle.Action
	req       proto.Message
	name      string
	etag      string
	requestID string
	note      string
	// target returns the new holder (an office id); nil keeps the holder.
	target func(c *store.Case, caller auth.Caller) (string, error)
	// apply changes the case beyond state and holder (e.g. the answer).
	apply func(c *store.Case, caller auth.Caller)
}

// ReferCaseUp hands a township's case to the county petition bureau.
func (s *Server) ReferCaseUp(ctx context.Context, req *assignmentv1.ReferCaseUpRequest) (*assignmentv1.ReferCaseUpResponse, error) {
	var v rpcerr.Violations
	requireText(&v, "reason", req.GetReason(), maxReason)
	c, err := s.transition(ctx, &v, move{
		method: "ReferCaseUp", action: lifecycle.ReferUp, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: req.GetReason(),
		target: func(*store.Case, auth.Caller) (string, error) { return s.Dir.Bureau().ID, nil },
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.ReferCaseUpResponse{Case: c}, nil
}

// TransferCase hands a case to the responsible department.
func (s *Server) TransferCase(ctx context.Context, req *assignmentv1.TransferCaseRequest) (*assignmentv1.TransferCaseResponse, error) {
	var v rpcerr.Violations
	requireText(&v, "reason", req.GetReason(), maxReason)
	to, ok := s.Dir.OfficeByResource(req.GetToOffice())
	switch {
	case req.GetToOffice() == "":
		v.Add("to_office", `is required, e.g. "offices/330421.zjj"`)
	case !ok:
		v.Add("to_office", "is not an office of county "+s.Dir.County.Code)
	case to.Kind != directory.Department:
		v.Add("to_office", "must be a county department (转送 goes to the responsible organ)")
	}
	c, err := s.transition(ctx, &v, move{
		method: "TransferCase", action: lifecycle.Transfer, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: req.GetReason(),
		target: func(c *store.Case, _ auth.Caller) (string, error) {
			if to.ID == c.Holder {
				return "", rpcerr.New(codes.FailedPrecondition, "TRANSFER_TO_SELF", "the case is already held by "+to.Name, "to_office", req.GetToOffice())
			}
			return to.ID, nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.TransferCaseResponse{Case: c}, nil
}

// AnswerCase records the holder's written answer.
func (s *Server) AnswerCase(ctx context.Context, req *assignmentv1.AnswerCaseRequest) (*assignmentv1.AnswerCaseResponse, error) {
	var v rpcerr.Violations
	requireText(&v, "text", req.GetText(), maxAnswer)
	if _, ok := assignmentv1.AnswerOutcome_name[int32(req.GetOutcome())]; !ok || req.GetOutcome() == assignmentv1.AnswerOutcome_ANSWER_OUTCOME_UNSPECIFIED {
		v.Add("outcome", "is required: one of ANSWER_OUTCOME_SUPPORT, ANSWER_OUTCOME_EXPLAIN, ANSWER_OUTCOME_REJECT")
	}
	c, err := s.transition(ctx, &v, move{
		method: "AnswerCase", action: lifecycle.Answer, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: summary(req.GetText()),
		apply: func(c *store.Case, caller auth.Caller) {
			c.AnswerOutcome = int16(req.GetOutcome())
			c.AnswerText = req.GetText()
			c.AnswerOffice = caller.Office.ID
			c.AnswerTime = time.Now().Truncate(time.Microsecond)
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.AnswerCaseResponse{Case: c}, nil
}

// transition runs one move: validation (v already holds the method's own
// violations), then in one transaction the idempotency check, the case
// locked FOR UPDATE, visibility, etag, the state machine, the new row, the
// history entry and the CaseMoved event.
func (s *Server) transition(ctx context.Context, v *rpcerr.Violations, m move) (*assignmentv1.Case, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	num, ok := names.CaseNumber(m.name)
	if !ok {
		v.Add("name", names.CaseNumberHint)
	}
	rid := idempotency.Checked(ctx, m.requestID, v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	out := &assignmentv1.Case{}
	key := idempotency.Key{Scope: caller.Office.ID, Method: m.method, RequestID: rid}
	err = pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		_, err := idempotency.Do(ctx, tx, key, m.req, out, func() error {
			c, err := s.Store.Lock(ctx, tx, num)
			if err == nil && !auth.CanSeeCase(caller, c.County, c.Involved) {
				err = store.ErrNotFound
			}
			if err != nil {
				return err
			}
			if m.etag != "" && m.etag != etag(c) {
				return rpcerr.New(codes.Aborted, "ETAG_MISMATCH", "the case changed since you read it: reload it and try again", "etag", etag(c))
			}
			to, err := lifecycle.Check(m.action, lifecycle.State(c.State), caller.Office.Kind, caller.Office.ID == c.Holder)
			if err != nil {
				return stateError(err, m.action, c)
			}
			from, fromState := c.Holder, c.State
			if m.target != nil {
				if c.Holder, err = m.target(c, caller); err != nil {
					return err
				}
			}
			if !slices.Contains(c.Involved, c.Holder) {
				c.Involved = append(c.Involved, c.Holder)
			}
			c.State = int16(to)
			if m.apply != nil {
				m.apply(c, caller)
			}
			if err := s.Store.Save(ctx, tx, c); err != nil {
				return err
			}
			e := &store.Entry{
				CaseNumber: c.Number, Action: int16(m.action), Time: c.UpdateTime,
				ActorOffice: caller.Office.ID, ActorRole: caller.Role,
				FromState: fromState, ToState: c.State, FromOffice: from, ToOffice: c.Holder,
				Note: m.note, RequestID: rid,
			}
			if err := s.Store.AddEntry(ctx, tx, e); err != nil {
				return err
			}
			proto.Reset(out)
			proto.Merge(out, toProto(c))
			return publishMove(ctx, tx, c, e)
		})
		return err
	})
	if err != nil {
		return nil, rpcerr.ToStatus(err, "name", m.name)
	}
	return out, nil
}

// ListCaseHistory lists a case's moves, oldest first.
func (s *Server) ListCaseHistory(ctx context.Context, req *assignmentv1.ListCaseHistoryRequest) (*assignmentv1.ListCaseHistoryResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v rpcerr.Violations
	num, ok := names.CaseNumber(req.GetParent())
	if !ok {
		v.Add("parent", names.CaseNumberHint)
	}
	page := pagination.Read(&v, req.GetPageSize(), req.GetPageToken(), "history/"+req.GetParent())
	if err := v.Err(); err != nil {
		return nil, err
	}
	c, err := s.Store.Get(ctx, num)
	if err == nil && !auth.CanSeeCase(caller, c.County, c.Involved) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, rpcerr.ToStatus(err, "parent", req.GetParent())
	}
	entries, err := s.Store.History(ctx, num, page.Offset, page.Size+1)
	if err != nil {
		return nil, rpcerr.ToStatus(err)
	}
	resp := &assignmentv1.ListCaseHistoryResponse{Case: toProto(c)}
	entries, resp.NextPageToken = pagination.Trim(page, entries)
	for _, e := range entries {
		resp.Entries = append(resp.Entries, entryProto(e))
	}
	return resp, nil
}

// ListOfficeQueue lists the cases an office holds. An office lists its own
// queue; the county bureau may list any office's.
func (s *Server) ListOfficeQueue(ctx context.Context, req *assignmentv1.ListOfficeQueueRequest) (*assignmentv1.ListOfficeQueueResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v rpcerr.Violations
	office, ok := s.Dir.OfficeByResource(req.GetParent())
	if !ok {
		v.Add("parent", `must name an office of the county, e.g. "offices/330421102"`)
	}
	page := pagination.Read(&v, req.GetPageSize(), req.GetPageToken(), "queue/"+req.GetParent())
	if err := v.Err(); err != nil {
		return nil, err
	}
	if office.ID != caller.Office.ID && caller.Office.Kind != directory.Bureau {
		return nil, rpcerr.New(codes.PermissionDenied, "OTHER_OFFICE_QUEUE", "an office may list only its own queue", "parent", req.GetParent())
	}
	cases, err := s.Store.Queue(ctx, office.ID, page.Offset, page.Size+1)
	if err != nil {
		return nil, rpcerr.ToStatus(err)
	}
	resp := &assignmentv1.ListOfficeQueueResponse{}
	cases, resp.NextPageToken = pagination.Trim(page, cases)
	for _, c := range cases {
		resp.Cases = append(resp.Cases, toProto(c))
	}
	return resp, nil
}

// Register takes a case from intake's CaseRegistered event: the registering
// office holds it first (首办负责).
func (s *Server) Register(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	reg := ev.GetCaseRegistered()
	if reg == nil {
		return nil
	}
	office, _ := names.OfficeID(reg.GetRegisteredBy())
	c := &store.Case{
		Number: ev.GetCaseNumber(), County: reg.GetCounty(), Township: reg.GetTownship(),
		Class: int16(reg.GetCaseClass()), RegisteredBy: office,
		State: int16(lifecycle.Registered), Holder: office, Involved: []string{office},
		CreateTime: ev.GetOccurTime().AsTime(),
	}
	e := &store.Entry{
		CaseNumber: c.Number, Action: int16(assignmentv1.Action_ACTION_REGISTER), Time: c.CreateTime,
		ActorOffice: office, ActorRole: reg.GetRegisteredRole(), ToState: c.State, ToOffice: office,
	}
	created, err := s.Store.Create(ctx, tx, c, e)
	if err != nil || !created {
		return err
	}
	c.Version, c.UpdateTime = 1, c.CreateTime
	return publishMove(ctx, tx, c, e)
}

func publishMove(ctx context.Context, tx pgx.Tx, c *store.Case, e *store.Entry) error {
	return outbox.Append(ctx, tx, &eventsv1.Event{
		CaseNumber: c.Number,
		OccurTime:  timestamppb.New(e.Time),
		Payload: &eventsv1.Event_CaseMoved{CaseMoved: &eventsv1.CaseMoved{
			County: c.County, Township: c.Township, Entry: entryProto(e),
		}},
	})
}

func toProto(c *store.Case) *assignmentv1.Case {
	out := &assignmentv1.Case{
		Name:         names.Case(c.Number),
		CaseNumber:   c.Number,
		State:        assignmentv1.CaseState(c.State),
		HolderOffice: names.Office(c.Holder),
		RegisteredBy: names.Office(c.RegisteredBy),
		Township:     c.Township,
		County:       c.County,
		Etag:         etag(c),
		UpdateTime:   timestamppb.New(c.UpdateTime),
	}
	if c.AnswerOutcome != 0 {
		out.Answer = &assignmentv1.Answer{
			Outcome:    assignmentv1.AnswerOutcome(c.AnswerOutcome),
			Text:       c.AnswerText,
			Office:     names.Office(c.AnswerOffice),
			AnswerTime: timestamppb.New(c.AnswerTime),
		}
	}
	return out
}

func entryProto(e *store.Entry) *assignmentv1.HistoryEntry {
	return &assignmentv1.HistoryEntry{
		Sequence:    e.Sequence,
		Action:      assignmentv1.Action(e.Action),
		Time:        timestamppb.New(e.Time),
		ActorOffice: names.Office(e.ActorOffice),
		ActorRole:   e.ActorRole,
		FromState:   assignmentv1.CaseState(e.FromState),
		ToState:     assignmentv1.CaseState(e.ToState),
		FromOffice:  names.Office(e.FromOffice),
		ToOffice:    names.Office(e.ToOffice),
		Note:        e.Note,
	}
}

func etag(c *store.Case) string { return `"` + strconv.FormatInt(c.Version, 10) + `"` }

// summary shortens an answer for the history entry.
func summary(text string) string {
	const n = 120
	if utf8.RuneCountInString(text) <= n {
		return text
	}
	return string([]rune(text)[:n]) + "…"
}

func requireText(v *rpcerr.Violations, field, val string, max int) {
	switch n := utf8.RuneCountInString(strings.TrimSpace(val)); {
	case n == 0:
		v.Add(field, "is required")
	case n > max:
		v.Add(field, "must be at most "+strconv.Itoa(max)+" characters")
	}
}

func stateError(err error, action lifecycle.Action, c *store.Case) error {
	switch {
	case errors.Is(err, lifecycle.ErrState):
		return rpcerr.New(codes.FailedPrecondition, "CASE_STATE_CONFLICT",
			"a case in state "+assignmentv1.CaseState(c.State).String()+" does not allow "+action.String(),
			"state", assignmentv1.CaseState(c.State).String(), "action", action.String())
	case errors.Is(err, lifecycle.ErrNotHolder):
		return rpcerr.New(codes.PermissionDenied, "NOT_HOLDER", "only the office holding the case may do this; it is held by "+names.Office(c.Holder),
			"holder_office", names.Office(c.Holder))
	case errors.Is(err, lifecycle.ErrKind):
		return rpcerr.New(codes.PermissionDenied, "OFFICE_KIND_NOT_ALLOWED", "your kind of office may not "+action.String(), "action", action.String())
	}
	return err
}
