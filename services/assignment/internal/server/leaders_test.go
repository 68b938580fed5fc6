package server

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/devkit/authtest"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

// TestLeaderSeesLedCases: a leader's account sees the cases it leads (包案)
// and no others, not even at the bureau, records on the card of its own
// case, and the move tells the other services (CaseMoved.lead_account).
func TestLeaderSeesLedCases(t *testing.T) {
	t.Parallel()
	s, _ := registered(t)
	register(t, s, reg{number: "330421-2026-000002"})
	leader := func(account string) context.Context {
		return authtest.AsAccount(t, "330421.xfj", policy.RoleLeader, account)
	}
	card := func(ctx context.Context, number string) error {
		_, err := s.GetCaseCard(ctx, &assignmentv1.GetCaseCardRequest{Name: "cases/" + number + "/card"})
		return err
	}
	history := func(ctx context.Context, number string) error {
		_, err := s.ListCaseHistory(ctx, &assignmentv1.ListCaseHistoryRequest{Parent: "cases/" + number})
		return err
	}
	if err := history(leader("zhang.wei"), "330421-2026-000001"); rpcerr.Code(err) != codes.NotFound {
		t.Fatalf("a bureau leader reads a case they do not lead: %v", err)
	}
	lead := func(account string) error {
		_, err := s.LeadCase(authtest.As(t, "demo-bureau"), &assignmentv1.LeadCaseRequest{
			Name: caseName, Leader: "张伟", LeaderTitle: "副县长", Unit: "offices/330421102", Person: "李某", DueDate: "2026-12-15",
			LeaderAccount: account,
		})
		return err
	}
	for _, bad := range []string{"zhang.wei", "accounts/", "accounts/ZW", "accounts/a"} {
		if err := lead(bad); rpcerr.Code(err) != codes.InvalidArgument || !slices.Contains(rpcerr.Fields(err), "leader_account") {
			t.Errorf("leader_account %q: %v", bad, err)
		}
	}
	if err := lead("accounts/zhang.wei"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		who, number string
		ctx         context.Context
		want        codes.Code
	}{
		{"the leader in charge", "330421-2026-000001", leader("zhang.wei"), codes.OK},
		{"the leader in charge, another case", "330421-2026-000002", leader("zhang.wei"), codes.NotFound},
		{"another leader", "330421-2026-000001", leader("li.na"), codes.NotFound},
		{"a leader without an account", "330421-2026-000001", leader(""), codes.NotFound},
	} {
		if err := history(tc.ctx, tc.number); rpcerr.Code(err) != tc.want {
			t.Errorf("%s reads the history of %s: %v, want %v", tc.who, tc.number, err, tc.want)
		}
		if err := card(tc.ctx, tc.number); tc.want == codes.OK && err != nil {
			t.Errorf("%s reads the card of %s: %v", tc.who, tc.number, err)
		}
	}
	if _, err := recordProgress(leader("zhang.wei"), s, caseName); err != nil {
		t.Errorf("the leader in charge records on the card: %v", err)
	}
	if _, err := recordProgress(leader("li.na"), s, caseName); rpcerr.Code(err) != codes.NotFound {
		t.Errorf("another leader records on the card: %v", err)
	}
	evs, err := outbox.Written(context.Background(), s.Store.Pool)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range evs {
		if mv := ev.GetCaseMoved(); mv.GetEntry().GetAction() == assignmentv1.Action_ACTION_TAKE_LEAD {
			found = mv.GetLeadAccount() == "accounts/zhang.wei"
		}
	}
	if !found {
		t.Error("no CaseMoved of the 包案 names the leader's account")
	}
}

// TestAvailableActions: the history's case lists what the caller may do
// now, as the policy decides it: the township holding a fresh case may
// refer it up, accept or decline it; a department that never held it
// cannot read it at all; after the referral the bureau may route it.
func TestAvailableActions(t *testing.T) {
	t.Parallel()
	s, _ := registered(t)
	actions := func(token string) []assignmentv1.Action {
		t.Helper()
		h, err := s.ListCaseHistory(authtest.As(t, token), &assignmentv1.ListCaseHistoryRequest{Parent: caseName})
		if err != nil {
			t.Fatal(err)
		}
		return h.GetCase().GetAvailableActions()
	}
	got := actions("demo-dayun")
	for _, a := range []assignmentv1.Action{assignmentv1.Action_ACTION_REFER_UP, assignmentv1.Action_ACTION_ACCEPT, assignmentv1.Action_ACTION_DECLINE} {
		if !slices.Contains(got, a) {
			t.Errorf("大云镇 may not %v: %v", a, got)
		}
	}
	if slices.Contains(got, assignmentv1.Action_ACTION_ROUTE) {
		t.Errorf("a township may route: %v", got)
	}
	if _, err := s.ListCaseHistory(authtest.As(t, "demo-zjj"), &assignmentv1.ListCaseHistoryRequest{Parent: caseName}); rpcerr.Code(err) != codes.NotFound {
		t.Errorf("住建局 reads a case it never held: %v", err)
	}
	if _, err := s.ReferCaseUp(authtest.As(t, "demo-dayun"), &assignmentv1.ReferCaseUpRequest{Name: caseName, Reason: "需县级协调"}); err != nil {
		t.Fatal(err)
	}
	if got := actions("demo-bureau"); !slices.Contains(got, assignmentv1.Action_ACTION_ROUTE) || !slices.Contains(got, assignmentv1.Action_ACTION_ASSIGN_DOWN) {
		t.Errorf("the bureau, holding the referred case: %v", got)
	}
	if got := actions("demo-dayun"); slices.Contains(got, assignmentv1.Action_ACTION_REFER_UP) {
		t.Errorf("大云镇 may refer up again: %v", got)
	}
}
