package server

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/assignment/internal/store"
	"github.com/tongban/tongban/services/assignment/lifecycle"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
)

// reviewable says whether a case's class has the review chain: only a claim
// handled as a petition does (信访工作条例 第三十一条第六项, 第三十五条).
func reviewable(c *store.Case) bool { return c.Class == int16(intakev1.CaseClass_CASE_CLASS_CLAIM) }

// openNextInstance starts the petitioner's period for asking the next
// instance, counted from the decision given at now.
func (s *Server) openNextInstance(c *store.Case, now time.Time) {
	c.NextInstanceDue = time.Time{}
	if reviewable(c) {
		c.NextInstanceDue, _ = s.Calendar().AddDays(now, s.Rules.NextInstanceDays, s.Rules.RollOver)
	}
}

// EvaluateCase records the petitioner's rating.
func (s *Server) EvaluateCase(ctx context.Context, req *assignmentv1.EvaluateCaseRequest) (*assignmentv1.EvaluateCaseResponse, error) {
	var v fault.Violations
	optionalText(&v, "comment", req.GetComment(), maxReason)
	if r := req.GetRating(); r == assignmentv1.Rating_RATING_UNSPECIFIED || assignmentv1.Rating_name[int32(r)] == "" {
		v.Add("rating", "is required: one of RATING_SATISFIED, RATING_BASICALLY_SATISFIED, RATING_UNSATISFIED")
	}
	return moveCase[assignmentv1.EvaluateCaseResponse](ctx, s, req, &v, move{
		action: lifecycle.Evaluate,
		note:   req.GetRating().String(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, caller auth.Caller, _ *store.Entry) error {
			c.Docs.Evaluation = &assignmentv1.Evaluation{
				Rating: req.GetRating(), Comment: req.GetComment(), Office: caller.Office.Resource(), EvaluateTime: timestamppb.New(s.now(ctx)),
			}
			return nil
		},
	})
}

// higher is the next higher organ of the office that decided: the county
// (through its petition bureau) above its townships and departments, the
// prefecture above the county.
func (s *Server) higher(resource string) (directory.Office, error) {
	o, ok := s.Dir.OfficeByResource(resource)
	if ok {
		switch o.Kind {
		case directory.Township, directory.Department:
			return s.Dir.Bureau(), nil
		case directory.Bureau:
			if p, ok := s.Dir.Prefecture(); ok {
				return p, nil
			}
		}
	}
	return directory.Office{}, refuse("NO_HIGHER_ORGAN", "the organ above "+resource+" is outside this system; the petitioner applies to it directly")
}

// nextInstance sends a request for review or re-review to the organ above
// the one that decided (the guard checked the period).
func (s *Server) nextInstance(ctx context.Context, c *store.Case, e *store.Entry, decidedBy, what string) error {
	up, err := s.nextInstanceOpen(ctx, c, decidedBy, what)
	if err != nil {
		return err
	}
	c.Holder, e.Target, c.NextInstanceDue = up.ID, up.ID, time.Time{}
	return nil
}

// RequestCaseReview sends the case to the organ above the one that answered.
func (s *Server) RequestCaseReview(ctx context.Context, req *assignmentv1.RequestCaseReviewRequest) (*assignmentv1.RequestCaseReviewResponse, error) {
	var v fault.Violations
	requireText(&v, "reason", req.GetReason(), maxAnswer)
	return moveCase[assignmentv1.RequestCaseReviewResponse](ctx, s, req, &v, move{
		action: lifecycle.RequestReview,
		note:   summary(req.GetReason()),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, e *store.Entry) error {
			return s.nextInstance(ctx, c, e, c.Docs.GetAnswer().GetOffice(), "review (复查)")
		},
	})
}

// decision validates and builds a review or re-review decision.
func decision(v *fault.Violations, outcome assignmentv1.AnswerOutcome, text, basis string) func(auth.Caller, time.Time) *assignmentv1.Answer {
	requireText(v, "text", text, maxAnswer)
	optionalText(v, "legal_basis", basis, maxAnswer)
	if outcome == assignmentv1.AnswerOutcome_ANSWER_OUTCOME_UNSPECIFIED || assignmentv1.AnswerOutcome_name[int32(outcome)] == "" {
		v.Add("outcome", "is required: one of ANSWER_OUTCOME_SUPPORT, ANSWER_OUTCOME_EXPLAIN, ANSWER_OUTCOME_REJECT")
	}
	return func(caller auth.Caller, now time.Time) *assignmentv1.Answer {
		return &assignmentv1.Answer{
			Outcome: outcome, Text: text, LegalBasis: basis, Office: caller.Office.Resource(),
			AnswerTime: timestamppb.New(now), Form: assignmentv1.AnswerForm_ANSWER_FORM_OPINION,
		}
	}
}

// ReviewCase records the review decision.
func (s *Server) ReviewCase(ctx context.Context, req *assignmentv1.ReviewCaseRequest) (*assignmentv1.ReviewCaseResponse, error) {
	var v fault.Violations
	build := decision(&v, req.GetOutcome(), req.GetText(), req.GetLegalBasis())
	return moveCase[assignmentv1.ReviewCaseResponse](ctx, s, req, &v, move{
		action: lifecycle.Review,
		note:   summary(req.GetText()),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, caller auth.Caller, _ *store.Entry) error {
			now := s.now(ctx)
			c.Docs.Review = build(caller, now)
			s.openNextInstance(c, now)
			return nil
		},
	})
}

// RequestCaseReReview sends the case to the organ above the reviewer.
func (s *Server) RequestCaseReReview(ctx context.Context, req *assignmentv1.RequestCaseReReviewRequest) (*assignmentv1.RequestCaseReReviewResponse, error) {
	var v fault.Violations
	requireText(&v, "reason", req.GetReason(), maxAnswer)
	return moveCase[assignmentv1.RequestCaseReReviewResponse](ctx, s, req, &v, move{
		action: lifecycle.RequestReReview,
		note:   summary(req.GetReason()),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, e *store.Entry) error {
			return s.nextInstance(ctx, c, e, c.Docs.GetReview().GetOffice(), "re-review (复核)")
		},
	})
}

// ReReviewCase records the re-review decision: the case is final.
func (s *Server) ReReviewCase(ctx context.Context, req *assignmentv1.ReReviewCaseRequest) (*assignmentv1.ReReviewCaseResponse, error) {
	var v fault.Violations
	build := decision(&v, req.GetOutcome(), req.GetText(), req.GetLegalBasis())
	return moveCase[assignmentv1.ReReviewCaseResponse](ctx, s, req, &v, move{
		action: lifecycle.ReReview,
		note:   summary(req.GetText()),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, caller auth.Caller, _ *store.Entry) error {
			c.Docs.ReReview = build(caller, s.now(ctx))
			c.NextInstanceDue = time.Time{}
			return nil
		},
	})
}

// StartCaseHearing records the start of a re-review hearing.
func (s *Server) StartCaseHearing(ctx context.Context, req *assignmentv1.StartCaseHearingRequest) (*assignmentv1.StartCaseHearingResponse, error) {
	var v fault.Violations
	requireText(&v, "note", req.GetNote(), maxReason)
	return moveCase[assignmentv1.StartCaseHearingResponse](ctx, s, req, &v, move{
		action: lifecycle.StartHearing,
		note:   req.GetNote(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, _ *store.Entry) error {
			c.Docs.HearingStartTime = timestamppb.New(s.now(ctx))
			return nil
		},
	})
}

// EndCaseHearing records the end of the hearing.
func (s *Server) EndCaseHearing(ctx context.Context, req *assignmentv1.EndCaseHearingRequest) (*assignmentv1.EndCaseHearingResponse, error) {
	var v fault.Violations
	requireText(&v, "note", req.GetNote(), maxReason)
	return moveCase[assignmentv1.EndCaseHearingResponse](ctx, s, req, &v, move{
		action: lifecycle.EndHearing,
		note:   req.GetNote(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, _ *store.Entry) error {
			c.Docs.HearingStartTime = nil
			return nil
		},
	})
}
