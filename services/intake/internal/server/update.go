package server

import (
	"context"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/county/caseversion"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/intake/internal/store"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/idempotency"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/precondition"
	"github.com/tongban/tongban/services/platform/textnorm"
)

// correctable are the fields a registration may be corrected in; the rest
// (channel, class, township, source) decide routing and stay as registered.
var correctable = []string{"anonymous", "content", "head_count", "petitioners", "receive_time", "subject", "topic"}

// endedStates are the states of a case that has ended.
var endedStates = map[int16]bool{
	int16(assignmentv1.CaseState_CASE_STATE_DECLINED): true,
	int16(assignmentv1.CaseState_CASE_STATE_FINAL):    true,
	int16(assignmentv1.CaseState_CASE_STATE_CLOSED):   true,
}

// afterEnd are the fields a finished case may still be corrected in: a
// petitioner's contact details, a typo in the subject or the content.
var afterEnd = []string{"content", "petitioners", "subject"}

// mayCorrect says whether caller may correct fields of c: while it runs,
// the registering office; once it has ended, only the county petition
// bureau, with a reason, and only in afterEnd (what was decided on the
// registration stays as it was decided).
func mayCorrect(caller auth.Caller, c *store.Case, ended bool, fields []string, reason string) error {
	switch {
	case !ended && caller.Office.ID != c.RegisteredBy:
		return fault.New(fault.PermissionDenied, "NOT_REGISTERING_OFFICE", "only the registering office may correct a registration")
	case !ended:
		return nil
	case !policy.SeesCounty(caller) || caller.Role == "system":
		return fault.New(fault.FailedPrecondition, "CASE_ENDED", "the case has ended: only the county petition bureau corrects it, with a reason, and only contact details or a typo")
	case reason == "":
		return fault.New(fault.FailedPrecondition, "CORRECTION_REASON_REQUIRED", "the case has ended: say why it is corrected (reason)", "field", "reason")
	}
	for _, f := range fields {
		if !slices.Contains(afterEnd, f) {
			return fault.New(fault.FailedPrecondition, "CASE_ENDED", "the case has ended: "+f+" stays as it was decided; a finished case takes corrections of "+strings.Join(afterEnd, ", ")+" only", "field", f)
		}
	}
	return nil
}

// UpdateCase corrects a registration.
func (s *Server) UpdateCase(ctx context.Context, req *intakev1.UpdateCaseRequest) (*intakev1.UpdateCaseResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	num, ok := names.CaseNumber(req.GetCase().GetName())
	if !ok {
		v.Add("case.name", names.CaseNumberHint)
	}
	var fields []string
	for _, p := range req.GetUpdateMask().GetPaths() {
		switch {
		case p == "name" || p == "etag": // identify and guard; not changes
		case slices.Contains(correctable, p):
			if !slices.Contains(fields, p) {
				fields = append(fields, p)
			}
		default:
			v.Add("update_mask", p+" cannot be corrected; correctable: "+strings.Join(correctable, ", "))
		}
	}
	if slices.Contains(fields, "receive_time") && req.GetCase().GetReceiveTime() == nil {
		v.Add("case.receive_time", "is required when update_mask names it")
	}
	if len(fields) == 0 && v.Len() == 0 {
		v.Add("update_mask", "names no field to correct")
	}
	rid := idempotency.Checked(ctx, req.GetRequestId(), &v)
	want := precondition.Etag(ctx, req.GetCase().GetEtag(), &v)
	reason := textnorm.Clean(req.GetReason())
	if utf8.RuneCountInString(reason) > 500 {
		v.Add("reason", "must be at most 500 characters")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	sort.Strings(fields)

	receipt := &intakev1.Case{}
	key := idempotency.Key{Scope: caller.Office.ID, Method: "UpdateCase", RequestID: rid}
	err = pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		_, err := idempotency.Do(ctx, tx, key, req, receipt, func() error {
			c, err := s.lockVisible(ctx, tx, caller, num, "name", req.GetCase().GetName(), true)
			if err != nil {
				return err
			}
			ended := endedStates[c.State]
			if err := mayCorrect(caller, c, ended, fields, reason); err != nil {
				return err
			}
			if err := caseversion.Check(want, version(c), caseversion.Registration); err != nil {
				return err
			}
			// Validate the corrected registration as a whole, as at
			// registration: as the registering office has it, identity in
			// clear (the bureau correcting a finished case sees it masked;
			// merged never leaves this function).
			registrar := caller
			registrar.Office.ID, registrar.Role = c.RegisteredBy, "clerk"
			merged := s.view(registrar, c, rootView{})
			in := req.GetCase()
			for _, f := range fields {
				switch f {
				case "subject":
					merged.Subject = in.GetSubject()
				case "content":
					merged.Content = in.GetContent()
				case "topic":
					merged.Topic = in.GetTopic()
				case "anonymous":
					merged.Anonymous = in.GetAnonymous()
				case "receive_time":
					merged.ReceiveTime = in.GetReceiveTime()
				case "head_count":
					merged.HeadCount = in.GetHeadCount()
				case "petitioners":
					merged.Petitioners = in.GetPetitioners()
				}
			}
			if err := s.validate(c.RegisteredBy, &intakev1.CreateCaseRequest{Case: merged}, s.Now()); err != nil {
				return err
			}
			merged = cleaned(merged) // as validate checked it
			c.Subject, c.Content, c.Topic, c.Anonymous = merged.GetSubject(), merged.GetContent(), merged.GetTopic(), merged.GetAnonymous()
			c.ReceiveTime = merged.GetReceiveTime().AsTime()
			c.HeadCount = headCount(merged)
			c.Petitioners = petitionersOf(merged)
			if err := s.Store.Update(ctx, tx, c, store.Correction{
				Fields: fields, ActorOffice: caller.Office.ID, ActorRole: caller.Role, RequestID: rid, Reason: reason,
			}); err != nil {
				return err
			}
			receipt.Name, receipt.CaseNumber = names.Case(num), num
			detail := "fields=" + strings.Join(fields, ",")
			if ended {
				detail += " after_end=true reason=" + reason
			}
			if err := audit.Append(ctx, tx, audit.FromCall(ctx, audit.Correct, num, rid, detail)); err != nil {
				return err
			}
			return outbox.Append(ctx, tx, &eventsv1.Event{
				CaseNumber: num,
				OccurTime:  timestamppb.New(c.UpdateTime),
				Payload: &eventsv1.Event_CaseCorrected{CaseCorrected: &eventsv1.CaseCorrected{
					Fields: fields, ActorOffice: names.Office(caller.Office.ID),
					ReceiveTime: timestamppb.New(c.ReceiveTime), HeadCount: c.HeadCount,
					Topic: c.Topic, Group: int(c.HeadCount) >= s.Rules.GroupSize, Version: c.Version,
				}},
			})
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	c, err := s.reread(ctx, caller, num)
	if err != nil {
		return nil, err
	}
	if v, ok := caseversion.Parse(c.GetEtag()); ok {
		c.Etag = v.Echo(want).Etag() // a move the client made may not have reached us yet
	}
	return &intakev1.UpdateCaseResponse{Case: c}, nil
}
