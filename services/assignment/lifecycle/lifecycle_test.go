package lifecycle

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/tongban/tongban/services/county/directory"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	holder := func(k directory.Kind) Party { return Party{Kind: k, Holder: true} }
	other := func(k directory.Kind) Party { return Party{Kind: k} }
	receiver := func(k directory.Kind) Party { return Party{Kind: k, Receiver: true} }
	tests := []struct {
		name   string
		action Action
		from   State
		party  Party
		want   State
		err    error
	}{
		{"township_refers_up", ReferUp, Registered, holder(directory.Township), Registered, nil},
		{"bureau_cannot_refer_up", ReferUp, Registered, holder(directory.Bureau), Registered, ErrKind},
		{"township_refers_only_what_it_holds", ReferUp, Registered, other(directory.Township), Registered, ErrNotHolder},
		{"no_refer_up_in_handling", ReferUp, InHandling, holder(directory.Township), InHandling, ErrState},
		{"bureau_routes", Route, Registered, holder(directory.Bureau), Transferred, nil},
		{"department_does_not_route", Route, Registered, holder(directory.Department), Registered, ErrKind},
		{"bureau_transfers", Transfer, Registered, holder(directory.Bureau), Transferred, nil},
		{"department_transfers_on", Transfer, InHandling, holder(directory.Department), Transferred, nil},
		{"sender_sends_on_after_objection", Transfer, ReturnRequested, holder(directory.Bureau), Transferred, nil},
		{"township_cannot_transfer", Transfer, Registered, holder(directory.Township), Registered, ErrKind},
		{"no_transfer_after_answer", Transfer, Answered, holder(directory.Bureau), Answered, ErrState},
		{"no_second_transfer_while_pending", Transfer, Transferred, holder(directory.Bureau), Transferred, ErrState},
		{"receiver_signs_for", SignFor, Transferred, receiver(directory.Department), Routed, nil},
		{"sender_cannot_sign_for", SignFor, Transferred, holder(directory.Bureau), Transferred, ErrNotPending},
		{"receiver_sends_back", SendBack, Transferred, receiver(directory.Department), ReturnRequested, nil},
		{"sender_takes_it_back", AcceptReturn, ReturnRequested, holder(directory.Bureau), Registered, nil},
		{"holder_accepts", Accept, Routed, holder(directory.Department), InHandling, nil},
		{"township_accepts_its_own", Accept, Registered, holder(directory.Township), InHandling, nil},
		{"holder_declines", Decline, Routed, holder(directory.Department), Declined, nil},
		{"bureau_assigns_down", AssignDown, Registered, holder(directory.Bureau), Routed, nil},
		{"report_keeps_state", Report, Answered, holder(directory.Township), Answered, nil},
		{"extend_keeps_state", Extend, InHandling, holder(directory.Department), InHandling, nil},
		{"department_answers", Answer, InHandling, holder(directory.Department), Answered, nil},
		{"answer_needs_acceptance", Answer, Registered, holder(directory.Township), Registered, ErrState},
		{"no_second_answer", Answer, Answered, holder(directory.Department), Answered, ErrState},
		{"non_holder_cannot_answer", Answer, InHandling, other(directory.Department), InHandling, ErrNotHolder},
		{"anyone_records_evaluation", Evaluate, Answered, other(directory.Township), Evaluated, nil},
		{"anyone_records_review_request", RequestReview, Evaluated, other(directory.Township), ReviewRequested, nil},
		{"department_does_not_review", Review, ReviewRequested, holder(directory.Department), ReviewRequested, ErrKind},
		{"prefecture_re_reviews", ReReview, ReReviewRequested, holder(directory.Prefecture), Final, nil},
		{"nothing_after_final", RequestReview, Final, other(directory.Township), Final, ErrState},
		{"bureau_closes", Close, Answered, other(directory.Bureau), Closed, nil},
		{"other_office_cannot_close", Close, Answered, other(directory.Township), Answered, ErrNotHolder},
		{"lead_adds_co_handler", AddCoHandler, InHandling, holder(directory.Department), InHandling, nil},
		{"co_handler_contributes", Contribute, InHandling, Party{Kind: directory.Department, Co: true}, InHandling, nil},
		{"lead_is_not_a_co_handler", Contribute, InHandling, holder(directory.Department), InHandling, ErrNotCo},
		{"co_handler_cannot_answer", Answer, InHandling, Party{Kind: directory.Department, Co: true}, InHandling, ErrNotHolder},
		{"bureau_returns_for_rework", ReturnForRework, Evaluated, other(directory.Bureau), InHandling, nil},
		{"department_cannot_order_rework", ReturnForRework, Answered, holder(directory.Department), Answered, ErrKind},
		{"no_urgency_after_close", SetUrgency, Closed, other(directory.Bureau), Closed, ErrState},
		{"bureau_records_a_lead", TakeLead, Transferred, other(directory.Bureau), Transferred, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Check(tc.action, tc.from, tc.party)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && got != tc.want {
				t.Errorf("state = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestDocsMatchTable keeps docs/lifecycle.md in step with Rules: every
// transition appears there as "FROM --ACTION--> TO".
func TestDocsMatchTable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../../docs/lifecycle.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	short := func(s string) string {
		s = strings.TrimPrefix(s, "CASE_STATE_")
		return strings.TrimPrefix(s, "ACTION_")
	}
	for action, r := range Rules {
		for _, from := range r.From {
			to := r.To
			if to == Same {
				to = from
			}
			edge := short(from.String()) + " --" + short(action.String()) + "--> " + short(to.String())
			if !strings.Contains(doc, edge) {
				t.Errorf("docs/lifecycle.md lacks %q", edge)
			}
		}
	}
}
