package server

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	"github.com/tongban/tongban/services/assignment/internal/store"
	"github.com/tongban/tongban/services/assignment/lifecycle"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
)

// AcceptCase starts handling.
func (s *Server) AcceptCase(ctx context.Context, req *assignmentv1.AcceptCaseRequest) (*assignmentv1.AcceptCaseResponse, error) {
	var v fault.Violations
	optionalText(&v, "notice", req.GetNotice(), maxAnswer)
	return moveCase[assignmentv1.AcceptCaseResponse](ctx, s, req, &v, move{
		action: lifecycle.Accept,
		note:   summary(req.GetNotice()),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, _ *store.Entry) error {
			c.AcceptTime = s.now(ctx)
			return nil
		},
	})
}

// DeclineCase ends a case with a notice naming the statutory channel.
func (s *Server) DeclineCase(ctx context.Context, req *assignmentv1.DeclineCaseRequest) (*assignmentv1.DeclineCaseResponse, error) {
	var v fault.Violations
	requireText(&v, "notice", req.GetNotice(), maxAnswer)
	switch ch := req.GetChannel(); {
	case ch == assignmentv1.StatutoryChannel_STATUTORY_CHANNEL_UNSPECIFIED:
		v.Add("channel", "is required: the statutory channel the petitioner is directed to (STATUTORY_CHANNEL_LITIGATION, …)")
	case assignmentv1.StatutoryChannel_name[int32(ch)] == "":
		v.Add("channel", "is not a known channel")
	}
	return moveCase[assignmentv1.DeclineCaseResponse](ctx, s, req, &v, move{
		action: lifecycle.Decline,
		note:   summary(req.GetNotice()),
		apply: func(ctx context.Context, tx pgx.Tx, c *store.Case, caller auth.Caller, _ *store.Entry) error {
			d := &assignmentv1.Decline{Channel: req.GetChannel(), Notice: req.GetNotice(), Office: caller.Office.Resource()}
			if req.GetChannel() == assignmentv1.StatutoryChannel_STATUTORY_CHANNEL_FINALLY_CLOSED {
				// The clerk's decision that this is the same matter, on the
				// same facts and reasons, as one finally closed.
				final, err := s.repeatsFinal(ctx, tx, c)
				if err != nil {
					return err
				}
				if !final {
					return refuse("NOT_A_REPEAT_OF_FINAL", "STATUTORY_CHANNEL_FINALLY_CLOSED declines a repeat of a matter finally closed after re-review "+
						"(信访工作条例 第三十六条第三款); this case repeats none: link it to the final case first (:linkRepeat), or name another channel")
				}
				d.FinalCase = names.Case(c.RepeatOf)
			}
			c.Docs.Decline = d
			return nil
		},
	})
}

// ExtendCase extends the handling period once.
func (s *Server) ExtendCase(ctx context.Context, req *assignmentv1.ExtendCaseRequest) (*assignmentv1.ExtendCaseResponse, error) {
	var v fault.Violations
	requireText(&v, "reason", req.GetReason(), maxReason)
	requireText(&v, "approved_by", req.GetApprovedBy(), 100)
	if d := req.GetDays(); d < 1 || int(d) > s.Rules.ExtensionDays {
		v.Add("days", "must be between 1 and "+strconv.Itoa(s.Rules.ExtensionDays)+" ("+s.Rules.HandlingSource+")")
	}
	return moveCase[assignmentv1.ExtendCaseResponse](ctx, s, req, &v, move{
		action: lifecycle.Extend,
		note:   strconv.Itoa(int(req.GetDays())) + "日，" + req.GetApprovedBy() + "批准：" + req.GetReason(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, _ *store.Entry) error {
			c.Docs.Extension = &assignmentv1.Extension{
				Days: req.GetDays(), Reason: req.GetReason(), ApprovedBy: req.GetApprovedBy(), ExtendTime: timestamppb.New(s.now(ctx)),
			}
			return nil
		},
	})
}

// AnswerCase records the holder's written answer.
func (s *Server) AnswerCase(ctx context.Context, req *assignmentv1.AnswerCaseRequest) (*assignmentv1.AnswerCaseResponse, error) {
	var v fault.Violations
	requireText(&v, "text", req.GetText(), maxAnswer)
	optionalText(&v, "legal_basis", req.GetLegalBasis(), maxAnswer)
	agreement := req.GetForm() == assignmentv1.AnswerForm_ANSWER_FORM_AGREEMENT
	if assignmentv1.AnswerForm_name[int32(req.GetForm())] == "" {
		v.Add("form", "is not a known form")
	}
	if o := req.GetOutcome(); assignmentv1.AnswerOutcome_name[int32(o)] == "" || (o == assignmentv1.AnswerOutcome_ANSWER_OUTCOME_UNSPECIFIED && !agreement) {
		v.Add("outcome", "is required: one of ANSWER_OUTCOME_SUPPORT, ANSWER_OUTCOME_EXPLAIN, ANSWER_OUTCOME_REJECT")
	}
	num, _ := names.CaseNumber(req.GetName())
	for i, a := range req.GetAttachments() {
		if !strings.HasPrefix(a, names.Case(num)+"/attachments/") {
			v.Add("attachments["+strconv.Itoa(i)+"]", `must name an attachment of this case, "`+names.Case(num)+`/attachments/{n}"`)
		}
	}
	form := req.GetForm()
	if form == assignmentv1.AnswerForm_ANSWER_FORM_UNSPECIFIED {
		form = assignmentv1.AnswerForm_ANSWER_FORM_OPINION
	}
	return moveCase[assignmentv1.AnswerCaseResponse](ctx, s, req, &v, move{
		action: lifecycle.Answer,
		note:   summary(req.GetText()),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, caller auth.Caller, _ *store.Entry) error {
			now := s.now(ctx)
			c.AnswerTime = now
			c.Docs.Answer = &assignmentv1.Answer{
				Outcome: req.GetOutcome(), Text: req.GetText(), Office: caller.Office.Resource(), AnswerTime: timestamppb.New(now),
				Form: form, LegalBasis: req.GetLegalBasis(), Attachments: req.GetAttachments(),
			}
			s.openNextInstance(c, now)
			return nil
		},
	})
}

// CloseCase closes a case once nothing more can be asked of it.
func (s *Server) CloseCase(ctx context.Context, req *assignmentv1.CloseCaseRequest) (*assignmentv1.CloseCaseResponse, error) {
	var v fault.Violations
	optionalText(&v, "note", req.GetNote(), maxReason)
	return moveCase[assignmentv1.CloseCaseResponse](ctx, s, req, &v, move{
		action: lifecycle.Close,
		note:   req.GetNote(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, _ *store.Entry) error {
			c.NextInstanceDue = time.Time{}
			return nil
		},
	})
}

// repeatsFinal reports whether c repeats a case finally closed after
// re-review (三级终结).
func (s *Server) repeatsFinal(ctx context.Context, tx pgx.Tx, c *store.Case) (bool, error) {
	if c.RepeatOf == "" {
		return false, nil
	}
	st, err := s.Store.State(ctx, tx, c.RepeatOf)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil && lifecycle.State(st) == lifecycle.Final, err
}

// ReopenCase is the bureau's correction of a decision not to accept.
func (s *Server) ReopenCase(ctx context.Context, req *assignmentv1.ReopenCaseRequest) (*assignmentv1.ReopenCaseResponse, error) {
	var v fault.Violations
	requireText(&v, "reason", req.GetReason(), maxReason)
	return moveCase[assignmentv1.ReopenCaseResponse](ctx, s, req, &v, move{
		action: lifecycle.Reopen,
		note:   "纠正不予受理：" + req.GetReason(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, e *store.Entry) error {
			if d := c.Docs.GetDecline(); d != nil {
				e.Note += "（原不予受理告知：" + summary(d.GetNotice()) + "）"
				c.Docs.CorrectedDeclines = append(c.Docs.CorrectedDeclines, d)
			}
			c.Docs.Decline = nil
			e.Target = c.Holder // the office that declined decides again
			return nil
		},
	})
}
