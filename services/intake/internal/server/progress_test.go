package server

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/platform/authtest"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

// TestCaseProgress: a petitioner's lookup by case number and query code
// (no caller) shows the state, the holder and the steps, nothing of the
// registration; a wrong code answers like a missing case; five wrong codes
// lock the case's lookup.
func TestCaseProgress(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	created, err := s.CreateCase(authtest.As(t, "demo-dayun"), &intakev1.CreateCaseRequest{Case: validCase()})
	if err != nil {
		t.Fatal(err)
	}
	c := created.GetCase()
	ctx := context.Background() // no caller: the method is public
	moves := []*assignmentv1.HistoryEntry{
		{Sequence: 1, Action: assignmentv1.Action_ACTION_REGISTER, ToState: assignmentv1.CaseState_CASE_STATE_REGISTERED, ActorOffice: "offices/330421102", ToOffice: "offices/330421102", Note: "内部备注"},
		{Sequence: 2, Action: assignmentv1.Action_ACTION_REFER_UP, ToState: assignmentv1.CaseState_CASE_STATE_REGISTERED, ActorOffice: "offices/330421102", ToOffice: "offices/330421.xfj", Note: "内部备注"},
	}
	for _, e := range moves {
		ev := &eventsv1.Event{CaseNumber: c.GetCaseNumber(), Payload: &eventsv1.Event_CaseMoved{CaseMoved: &eventsv1.CaseMoved{Entry: e}}}
		if err := pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error { return s.ProjectMove(ctx, tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetCaseProgress(ctx, &intakev1.GetCaseProgressRequest{Name: c.GetName(), QueryCode: " " + strings.ToLower(c.GetQueryCode()) + " "})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetState() != assignmentv1.CaseState_CASE_STATE_REGISTERED || got.GetHolder() != "嘉善县信访局" || len(got.GetSteps()) != 2 ||
		got.GetSteps()[1].GetAction() != assignmentv1.Action_ACTION_REFER_UP || got.GetSteps()[0].GetOffice() != "大云镇" {
		t.Errorf("progress = %v", got)
	}
	js := protojson.Format(got)
	for _, secret := range []string{idNumber, phone, "张三", c.GetSubject(), c.GetContent(), "内部备注"} {
		if strings.Contains(js, secret) {
			t.Errorf("the public progress shows %q: %s", secret, js)
		}
	}

	for name, tc := range map[string]struct {
		req   *intakev1.GetCaseProgressRequest
		code  codes.Code
		field string
	}{
		"bad name":     {&intakev1.GetCaseProgressRequest{Name: "cases/x", QueryCode: "ABCDEF12"}, codes.InvalidArgument, "name"},
		"short code":   {&intakev1.GetCaseProgressRequest{Name: c.GetName(), QueryCode: "ABC"}, codes.InvalidArgument, "query_code"},
		"missing case": {&intakev1.GetCaseProgressRequest{Name: "cases/330421-2026-999999", QueryCode: c.GetQueryCode()}, codes.NotFound, ""},
	} {
		_, err := s.GetCaseProgress(ctx, tc.req)
		if status.Code(err) != tc.code || (tc.field != "" && !slices.Contains(rpcerr.Fields(err), tc.field)) {
			t.Errorf("%s: %v", name, err)
		}
	}
	wrong := "00000000"
	if c.GetQueryCode() == wrong {
		wrong = "11111111"
	}
	for i := range 5 {
		if _, err := s.GetCaseProgress(ctx, &intakev1.GetCaseProgressRequest{Name: c.GetName(), QueryCode: wrong}); status.Code(err) != codes.NotFound {
			t.Fatalf("wrong code %d: %v", i, err)
		}
	}
	if _, err := s.GetCaseProgress(ctx, &intakev1.GetCaseProgressRequest{Name: c.GetName(), QueryCode: c.GetQueryCode()}); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("after five wrong codes, the right one: %v", err)
	}
}
