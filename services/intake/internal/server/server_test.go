package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/jpeg"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jackc/pgx/v5"
	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/devkit/authtest"
	"github.com/tongban/tongban/services/devkit/pgtest"
	"github.com/tongban/tongban/services/intake/internal/store"
	"github.com/tongban/tongban/services/intake/migrations"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/blob"
	"github.com/tongban/tongban/services/platform/logging"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/protect"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

var testDB *pgtest.Instance

func TestMain(m *testing.M) {
	testDB = pgtest.MustStart("intake", migrations.Set)
	code := m.Run()
	testDB.MustClose()
	os.Exit(code)
}

const (
	idNumber = "330421199001011248"
	phone    = "13812345678"
)

func newServer(t testing.TB) *Server {
	t.Helper()
	keys, err := protect.Parse("k1:"+protect.NewKey(), "k1", protect.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(&store.Store{Pool: testDB.NewDatabase(t), Keys: keys}, directory.Demo(), blob.Dir{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC) }
	return s
}

func validCase() *intakev1.Case {
	return &intakev1.Case{
		Channel:   intakev1.Channel_CHANNEL_VISIT,
		Township:  "330421102",
		CaseClass: intakev1.CaseClass_CASE_CLASS_CLAIM,
		Subject:   "小区雨污管网破损",
		Content:   "东云村某小区雨污管道破损三个月未修复。",
		Petitioners: []*intakev1.Petitioner{{
			DisplayName: "张三", IdNumber: idNumber, Phone: phone,
		}},
	}
}

// representatives names n people who speak for a group.
func representatives(n int) []*intakev1.Petitioner {
	ps := plain(n)
	for _, p := range ps {
		p.Representative = true
	}
	return ps
}

func plain(n int) []*intakev1.Petitioner {
	var ps []*intakev1.Petitioner
	for i := range n {
		ps = append(ps, &intakev1.Petitioner{DisplayName: "代表" + strconv.Itoa(i+1)})
	}
	return ps
}

func TestCreateCaseValidation(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	tests := []struct {
		name   string
		mutate func(c *intakev1.Case)
		fields []string
	}{
		{"valid", func(*intakev1.Case) {}, nil},
		{"anonymous", func(c *intakev1.Case) { c.Petitioners, c.Anonymous = nil, true }, nil},
		{"anonymous_but_named", func(c *intakev1.Case) { c.Anonymous = true }, []string{"case.petitioners"}},
		{"nobody", func(c *intakev1.Case) { c.Petitioners = nil }, []string{"case.petitioners"}},
		{"organisation", func(c *intakev1.Case) {
			c.Petitioners = []*intakev1.Petitioner{{Kind: intakev1.PetitionerKind_PETITIONER_KIND_ORGANIZATION, DisplayName: "嘉善某物业公司", Phone: "0573-84012345"}}
		}, nil},
		{"organisation_with_resident_id", func(c *intakev1.Case) {
			c.Petitioners[0].Kind = intakev1.PetitionerKind_PETITIONER_KIND_ORGANIZATION
		}, []string{"case.petitioners[0].id_number"}},
		{"zhejiang_group_of_8_names_3", func(c *intakev1.Case) { c.HeadCount, c.Petitioners = 8, representatives(3) }, nil},
		{"zhejiang_group_of_8_names_4", func(c *intakev1.Case) { c.HeadCount, c.Petitioners = 8, representatives(4) }, []string{"case.petitioners"}},
		{"zhejiang_group_of_30_names_5", func(c *intakev1.Case) { c.HeadCount, c.Petitioners = 30, representatives(5) }, nil},
		{"zhejiang_group_of_30_names_6", func(c *intakev1.Case) { c.HeadCount, c.Petitioners = 30, representatives(6) }, []string{"case.petitioners"}},
		{"group_without_representatives", func(c *intakev1.Case) { c.HeadCount = 12 }, []string{"case.petitioners"}},
		{"representative_of_no_group", func(c *intakev1.Case) { c.Petitioners = representatives(1) }, []string{"case.petitioners"}},
		{"head_count_below_named", func(c *intakev1.Case) { c.HeadCount, c.Petitioners = 2, representatives(3) }, []string{"case.head_count"}},
		{"joint_letter_of_five", func(c *intakev1.Case) {
			c.Channel, c.Petitioners = intakev1.Channel_CHANNEL_LETTER, append(representatives(2), plain(3)...)
		}, nil},
		{"letter_received_earlier", func(c *intakev1.Case) {
			c.Channel = intakev1.Channel_CHANNEL_LETTER
			c.ReceiveTime = timestamppb.New(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC))
		}, nil},
		{"everything_wrong_at_once", func(c *intakev1.Case) {
			c.Channel = 0
			c.CaseClass = 99
			c.Township = "330421999"
			c.Subject = ""
			c.Content = strings.Repeat("字", maxContent+1)
			c.Petitioners[0].IdNumber = "330421199001011247"
			c.Petitioners[0].Phone = "12345"
			c.ReceiveTime = timestamppb.New(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
		}, []string{"case.channel", "case.case_class", "case.township", "case.subject", "case.content",
			"case.petitioners[0].id_number", "case.petitioners[0].phone", "case.receive_time"}},
		{"department_is_not_a_township", func(c *intakev1.Case) { c.Township = "330421.zjj" }, []string{"case.township"}},
		{"accusation_names_the_accused_unit", func(c *intakev1.Case) {
			c.CaseClass, c.AccusedOffice = intakev1.CaseClass_CASE_CLASS_ACCUSATION, "offices/330421.zjj"
		}, nil},
		{"accused_unit_only_for_accusations", func(c *intakev1.Case) { c.AccusedOffice = "offices/330421.zjj" }, []string{"case.accused_office"}},
		{"accused_unit_is_the_registering_office", func(c *intakev1.Case) {
			c.CaseClass, c.AccusedOffice = intakev1.CaseClass_CASE_CLASS_ACCUSATION, "offices/330421102"
		}, []string{"case.accused_office"}},
		{"accused_unit_unknown", func(c *intakev1.Case) {
			c.CaseClass, c.AccusedOffice = intakev1.CaseClass_CASE_CLASS_ACCUSATION, "offices/330421.nowhere"
		}, []string{"case.accused_office"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := validCase()
			tc.mutate(c)
			_, err := s.CreateCase(authtest.As(t, "demo-dayun"), &intakev1.CreateCaseRequest{Case: c})
			if tc.fields == nil {
				if err != nil {
					t.Fatalf("CreateCase: %v", err)
				}
				return
			}
			if rpcerr.Code(err) != codes.InvalidArgument {
				t.Fatalf("code = %v, want InvalidArgument (%v)", rpcerr.Code(err), err)
			}
			got := rpcerr.Fields(err)
			sort.Strings(got)
			sort.Strings(tc.fields)
			if diff := cmp.Diff(tc.fields, got); diff != "" {
				t.Errorf("field violations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCreateCaseNumbersAndEvent(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := authtest.As(t, "demo-dayun")
	var nums []string
	for range 3 {
		resp, err := s.CreateCase(ctx, &intakev1.CreateCaseRequest{Case: validCase()})
		if err != nil {
			t.Fatal(err)
		}
		nums = append(nums, resp.GetCase().GetCaseNumber())
	}
	if diff := cmp.Diff([]string{"330421-2026-000001", "330421-2026-000002", "330421-2026-000003"}, nums); diff != "" {
		t.Errorf("case numbers (-want +got):\n%s", diff)
	}
	evs, err := outbox.Written(context.Background(), s.Store.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3", len(evs))
	}
	reg := evs[0].GetCaseRegistered()
	if evs[0].GetCaseNumber() != nums[0] || reg.GetRegisteredBy() != "offices/330421102" || reg.GetTownship() != "330421102" {
		t.Errorf("event = %v", evs[0])
	}
	// Events carry no identity.
	if b := evs[0].String(); strings.Contains(b, idNumber) || strings.Contains(b, phone) || strings.Contains(b, "张三") {
		t.Errorf("event leaks identity: %s", b)
	}
}

// TestCreateCaseIdempotent: the same request id, sent ten times at once
// (and once more through the Idempotency-Key header), registers one case.
func TestCreateCaseIdempotent(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := authtest.As(t, "demo-dayun")
	req := &intakev1.CreateCaseRequest{Case: validCase(), RequestId: "township-system-4711"}
	var wg sync.WaitGroup
	got := make([]string, 10)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := s.CreateCase(ctx, req)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = resp.GetCase().GetCaseNumber()
		}()
	}
	wg.Wait()
	for _, n := range got {
		if n != "330421-2026-000001" {
			t.Fatalf("numbers = %v, want one case for all", got)
		}
	}
	hdr := metadata.NewIncomingContext(ctx, metadata.Pairs("idempotency-key", "hdr-1"))
	first, err := s.CreateCase(hdr, &intakev1.CreateCaseRequest{Case: validCase()})
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.CreateCase(hdr, &intakev1.CreateCaseRequest{Case: validCase()})
	if err != nil || again.GetCase().GetCaseNumber() != first.GetCase().GetCaseNumber() {
		t.Fatalf("header retry gave %v, %v; want %s", again.GetCase().GetCaseNumber(), err, first.GetCase().GetCaseNumber())
	}
	other := validCase()
	other.Subject = "另一件事"
	_, err = s.CreateCase(ctx, &intakev1.CreateCaseRequest{Case: other, RequestId: "township-system-4711"})
	if rpcerr.Code(err) != codes.InvalidArgument || rpcerr.Reason(err) != "REQUEST_ID_REUSED" {
		t.Fatalf("reused id: %v", err)
	}
	var n int
	if err := s.Store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM cases`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d cases stored, want 2", n)
	}
}

// TestVisibilityAndMasking: the registering township sees identity in
// clear; another township does not see the case at all (the same 404 as a
// missing case); the bureau sees it masked; an accused unit never sees an
// accuser.
func TestVisibilityAndMasking(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	claim, err := s.CreateCase(authtest.As(t, "demo-dayun"), &intakev1.CreateCaseRequest{Case: validCase()})
	if err != nil {
		t.Fatal(err)
	}
	acc := validCase()
	acc.CaseClass = intakev1.CaseClass_CASE_CLASS_ACCUSATION
	accusation, err := s.CreateCase(authtest.As(t, "demo-dayun"), &intakev1.CreateCaseRequest{Case: acc})
	if err != nil {
		t.Fatal(err)
	}
	get := func(token, name string) (*intakev1.Case, error) {
		resp, err := s.GetCase(authtest.As(t, token), &intakev1.GetCaseRequest{Name: name})
		return resp.GetCase(), err
	}
	c, err := get("demo-dayun", claim.GetCase().GetName())
	if err != nil || len(c.GetPetitioners()) != 1 || c.GetPetitioners()[0].GetIdNumber() != idNumber || c.GetPetitioners()[0].GetPhone() != phone {
		t.Fatalf("registering office: %v, %v", c.GetPetitioners(), err)
	}
	_, errOther := get("demo-xitang", claim.GetCase().GetName())
	_, errMissing := get("demo-xitang", "cases/330421-2026-999999")
	if rpcerr.Code(errOther) != codes.NotFound || rpcerr.Status(errOther).Message() != rpcerr.Status(errMissing).Message() {
		t.Fatalf("another township: %v; missing case: %v; want identical NOT_FOUND", errOther, errMissing)
	}
	c, err = get("demo-bureau", claim.GetCase().GetName())
	if err != nil {
		t.Fatal(err)
	}
	want := &intakev1.Petitioner{Kind: intakev1.PetitionerKind_PETITIONER_KIND_PERSON, DisplayName: "张*", IdNumber: "3304**********1248", Phone: "138****5678"}
	if diff := cmp.Diff(want.String(), c.GetPetitioners()[0].String()); diff != "" {
		t.Errorf("bureau sees (-want +got):\n%s", diff)
	}
	c, err = get("demo-bureau", accusation.GetCase().GetName())
	if err != nil || len(c.GetPetitioners()) != 0 {
		t.Fatalf("accusation seen by the bureau: petitioners %v, %v; want none", c.GetPetitioners(), err)
	}
	if _, err := get("demo-dayun", "not-a-name"); rpcerr.Code(err) != codes.InvalidArgument {
		t.Errorf("bad name: %v", err)
	}

	list, err := s.ListCases(authtest.As(t, "demo-dayun"), &intakev1.ListCasesRequest{PageSize: 1, View: intakev1.CaseView_CASE_VIEW_FULL})
	if err != nil || len(list.GetCases()) != 1 || list.GetNextPageToken() == "" {
		t.Fatalf("list page 1: %v, %v", list, err)
	}
	if p := list.GetCases()[0].GetPetitioners(); len(p) != 1 || strings.Contains(p[0].String(), idNumber) {
		t.Errorf("list shows identity in clear: %v", p)
	}
	list2, err := s.ListCases(authtest.As(t, "demo-dayun"), &intakev1.ListCasesRequest{PageSize: 1, PageToken: list.GetNextPageToken(), View: intakev1.CaseView_CASE_VIEW_FULL})
	if err != nil || len(list2.GetCases()) != 1 || list2.GetNextPageToken() != "" {
		t.Fatalf("list page 2: %v, %v", list2, err)
	}
	if _, err := s.ListCases(authtest.As(t, "demo-xitang"), &intakev1.ListCasesRequest{PageToken: list.GetNextPageToken()}); rpcerr.Code(err) != codes.InvalidArgument {
		t.Errorf("another office's page token: %v", err)
	}
	other, err := s.ListCases(authtest.As(t, "demo-xitang"), &intakev1.ListCasesRequest{})
	if err != nil || len(other.GetCases()) != 0 {
		t.Fatalf("another township lists %d cases, %v; want 0", len(other.GetCases()), err)
	}
}

// TestProjectMove: assignment's moves update state and holder, and the new
// holder may then see the case.
func TestProjectMove(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	created, err := s.CreateCase(authtest.As(t, "demo-dayun"), &intakev1.CreateCaseRequest{Case: validCase()})
	if err != nil {
		t.Fatal(err)
	}
	num := created.GetCase().GetCaseNumber()
	moves := []*assignmentv1.HistoryEntry{
		{Sequence: 1, Action: assignmentv1.Action_ACTION_REGISTER, ToState: assignmentv1.CaseState_CASE_STATE_REGISTERED, ToOffice: "offices/330421102"},
		{Sequence: 2, Action: assignmentv1.Action_ACTION_REFER_UP, ToState: assignmentv1.CaseState_CASE_STATE_REGISTERED, ToOffice: "offices/330421.xfj"},
		{Sequence: 3, Action: assignmentv1.Action_ACTION_TRANSFER, ToState: assignmentv1.CaseState_CASE_STATE_IN_HANDLING, ToOffice: "offices/330421.zjj"},
	}
	ctx := context.Background()
	// The row's version: a move that changes nothing it shows (REGISTER
	// names the state and holder intake wrote) does not rewrite it.
	version := func() (xmin string) {
		t.Helper()
		if err := s.Store.Pool.QueryRow(ctx, `SELECT xmin::text FROM cases WHERE case_number = $1`, num).Scan(&xmin); err != nil {
			t.Fatal(err)
		}
		return xmin
	}
	for i, e := range append(moves, moves[1]) { // a replayed move changes nothing
		before := version()
		ev := &eventsv1.Event{CaseNumber: num, Payload: &eventsv1.Event_CaseMoved{CaseMoved: &eventsv1.CaseMoved{Entry: e}}}
		if err := pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error { return s.ProjectMove(ctx, tx, ev) }); err != nil {
			t.Fatal(err)
		}
		if rewritten, want := version() != before, i == 1 || i == 2; rewritten != want {
			t.Errorf("move %d (%v): row rewritten %v, want %v", i, e.GetAction(), rewritten, want)
		}
	}
	resp, err := s.GetCase(authtest.As(t, "demo-zjj"), &intakev1.GetCaseRequest{Name: "cases/" + num})
	if err != nil {
		t.Fatal(err)
	}
	c := resp.GetCase()
	if c.GetState() != assignmentv1.CaseState_CASE_STATE_IN_HANDLING || c.GetHolderOffice() != "offices/330421.zjj" || len(c.GetHistory()) != 3 {
		t.Fatalf("projected case: state %v holder %s history %d", c.GetState(), c.GetHolderOffice(), len(c.GetHistory()))
	}
	// A transfer waiting for sign-for: the holder stays, and the receiver
	// (the move's target) may read the case it is asked to take.
	if _, err := s.GetCase(authtest.As(t, "demo-rsj"), &intakev1.GetCaseRequest{Name: "cases/" + num}); rpcerr.Code(err) != codes.NotFound {
		t.Fatalf("before the transfer 人社局 reads the case: %v", err)
	}
	pending := &assignmentv1.HistoryEntry{Sequence: 4, Action: assignmentv1.Action_ACTION_TRANSFER, ToState: assignmentv1.CaseState_CASE_STATE_TRANSFERRED,
		ToOffice: "offices/330421.zjj", TargetOffice: "offices/330421.rsj"}
	ev := &eventsv1.Event{CaseNumber: num, Payload: &eventsv1.Event_CaseMoved{CaseMoved: &eventsv1.CaseMoved{Entry: pending}}}
	if err := pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error { return s.ProjectMove(ctx, tx, ev) }); err != nil {
		t.Fatal(err)
	}
	if r, err := s.GetCase(authtest.As(t, "demo-rsj"), &intakev1.GetCaseRequest{Name: "cases/" + num}); err != nil || r.GetCase().GetHolderOffice() != "offices/330421.zjj" {
		t.Fatalf("the receiver reads the case: %v, %v", r, err)
	}

	// 包案: the leader's account sees the case it leads, in Get and List,
	// and no other; a leader of the same office without the lead sees none.
	other, err := s.CreateCase(authtest.As(t, "demo-dayun"), &intakev1.CreateCaseRequest{Case: validCase()})
	if err != nil {
		t.Fatal(err)
	}
	leader := func(account string) context.Context {
		return authtest.AsAccount(t, "330421.xfj", policy.RoleLeader, account)
	}
	if _, err := s.GetCase(leader("zhang.wei"), &intakev1.GetCaseRequest{Name: "cases/" + num}); rpcerr.Code(err) != codes.NotFound {
		t.Fatalf("a bureau leader reads a case before leading it: %v", err)
	}
	led := &assignmentv1.HistoryEntry{Sequence: 5, Action: assignmentv1.Action_ACTION_TAKE_LEAD, ToState: assignmentv1.CaseState_CASE_STATE_TRANSFERRED,
		ToOffice: "offices/330421.zjj", TargetOffice: "offices/330421.zjj"}
	ev = &eventsv1.Event{CaseNumber: num, Payload: &eventsv1.Event_CaseMoved{CaseMoved: &eventsv1.CaseMoved{Entry: led, LeadAccount: "accounts/zhang.wei"}}}
	if err := pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error { return s.ProjectMove(ctx, tx, ev) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetCase(leader("zhang.wei"), &intakev1.GetCaseRequest{Name: "cases/" + num}); err != nil {
		t.Errorf("the leader reads the case they lead: %v", err)
	}
	for _, who := range []string{"li.na", ""} {
		if _, err := s.GetCase(leader(who), &intakev1.GetCaseRequest{Name: "cases/" + num}); rpcerr.Code(err) != codes.NotFound {
			t.Errorf("leader %q reads a case they do not lead: %v", who, err)
		}
	}
	list, err := s.ListCases(leader("zhang.wei"), &intakev1.ListCasesRequest{})
	if err != nil || len(list.GetCases()) != 1 || list.GetCases()[0].GetCaseNumber() != num {
		t.Errorf("the leader's list: %v, %v (want only %s, not %s)", list, err, num, other.GetCase().GetCaseNumber())
	}
	if list, err := s.ListCases(leader(""), &intakev1.ListCasesRequest{}); err != nil || len(list.GetCases()) != 0 {
		t.Errorf("a leader without an account lists %v, %v", list, err)
	}
}

// TestAccusationProtectsTheAccuser: the accused unit is recorded, travels
// to assignment in the event, and the accuser is shown to no office but the
// one that registered it.
func TestAccusationProtectsTheAccuser(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	c := validCase()
	c.CaseClass, c.AccusedOffice = intakev1.CaseClass_CASE_CLASS_ACCUSATION, "offices/330421.zjj"
	created, err := s.CreateCase(authtest.As(t, "demo-dayun"), &intakev1.CreateCaseRequest{Case: c})
	if err != nil {
		t.Fatal(err)
	}
	num := created.GetCase().GetCaseNumber()
	if created.GetCase().GetAccusedOffice() != "offices/330421.zjj" || len(created.GetCase().GetPetitioners()) != 1 {
		t.Fatalf("registering office sees %v", created.GetCase())
	}
	evs, err := outbox.Written(context.Background(), s.Store.Pool)
	if err != nil || len(evs) != 1 || evs[0].GetCaseRegistered().GetAccusedOffice() != "330421.zjj" {
		t.Fatalf("event: %v, %v", evs, err)
	}
	// The accused unit cannot read it at all (it is never involved); the
	// bureau reads it without the accuser.
	if _, err := s.GetCase(authtest.As(t, "demo-zjj"), &intakev1.GetCaseRequest{Name: "cases/" + num}); rpcerr.Code(err) != codes.NotFound {
		t.Fatalf("the accused unit: %v", err)
	}
	r, err := s.GetCase(authtest.As(t, "demo-bureau"), &intakev1.GetCaseRequest{Name: "cases/" + num})
	if err != nil || len(r.GetCase().GetPetitioners()) != 0 {
		t.Fatalf("the bureau sees petitioners %v (%v)", r.GetCase().GetPetitioners(), err)
	}
}

// TestLogsCarryNoIdentity runs registrations and reads through the logging
// interceptor and checks the log for the petitioner's ID and phone.
func TestLogsCarryNoIdentity(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// The real chain: logging, the errors' edge, then authentication
	// (which annotates the line).
	logged := logging.UnaryServerInterceptor(logger)
	mapped := rpcerr.UnaryServerInterceptor()
	authn := auth.New(directory.Demo()).WithDemoTokens().UnaryServerInterceptor()
	call := func(ctx context.Context, method string, req any, h grpc.UnaryHandler) {
		info := &grpc.UnaryServerInfo{FullMethod: method}
		_, _ = logged(ctx, req, info, func(ctx context.Context, req any) (any, error) {
			return mapped(ctx, req, info, func(ctx context.Context, req any) (any, error) { return authn(ctx, req, info, h) })
		})
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer demo-dayun"))
	bad := validCase()
	bad.Petitioners[0].Phone = "1" + phone // invalid: the error names the field, not the value
	for i, c := range []*intakev1.Case{validCase(), bad} {
		call(ctx, "/tongban.intake.v1.IntakeService/CreateCase", &intakev1.CreateCaseRequest{Case: c, RequestId: "log-" + strconv.Itoa(i)},
			func(ctx context.Context, req any) (any, error) {
				return s.CreateCase(ctx, req.(*intakev1.CreateCaseRequest))
			})
	}
	call(ctx, "/tongban.intake.v1.IntakeService/GetCase", &intakev1.GetCaseRequest{Name: "cases/330421-2026-000001"},
		func(ctx context.Context, req any) (any, error) { return s.GetCase(ctx, req.(*intakev1.GetCaseRequest)) })
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "CreateCase") || !strings.Contains(out, "InvalidArgument") || !strings.Contains(out, `"caller.office":"330421102"`) {
		t.Fatalf("log lacks the calls:\n%s", out)
	}
	for _, secret := range []string{idNumber, phone, "张三"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestIdentitySealedAtRest: no column of the stored row holds the ID
// number, phone or name in clear, and the keyed hash finds the row.
func TestIdentitySealedAtRest(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	if _, err := s.CreateCase(authtest.As(t, "demo-dayun"), &intakev1.CreateCaseRequest{Case: validCase()}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var row string
	if err := s.Store.Pool.QueryRow(ctx, `SELECT c::text || p::text FROM cases c JOIN petitioners p USING (case_number)`).Scan(&row); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{idNumber, phone, "张三", "\\x" + fmt.Sprintf("%x", idNumber)} {
		if strings.Contains(row, secret) {
			t.Errorf("stored row contains %q: %s", secret, row)
		}
	}
	var n int
	if err := s.Store.Pool.QueryRow(ctx, `SELECT count(*) FROM petitioners WHERE id_number_hash = $1 AND phone_hash = $2`,
		s.Store.Keys.Hash("id_number", idNumber), s.Store.Keys.Hash("phone", phone)).Scan(&n); err != nil || n != 1 {
		t.Fatalf("lookup by keyed hash found %d rows, %v", n, err)
	}
}

// TestReferralExternalID: a township system re-sending its case (even at
// once, from several connections) gets the first registration back.
func TestReferralExternalID(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := authtest.As(t, "demo-dayun")
	referral := func() *intakev1.Case {
		c := validCase()
		c.Channel = intakev1.Channel_CHANNEL_REFERRAL
		c.SourceSystem, c.ExternalId = "330421102-xfxt", "DY-2026-0815"
		return c
	}
	var wg sync.WaitGroup
	nums := make([]string, 8)
	for i := range nums {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := s.CreateCase(ctx, &intakev1.CreateCaseRequest{Case: referral()})
			if err != nil {
				t.Error(err)
				return
			}
			nums[i] = resp.GetCase().GetCaseNumber()
		}()
	}
	wg.Wait()
	for _, n := range nums {
		if n != nums[0] || n == "" {
			t.Fatalf("re-sends registered %v, want one case", nums)
		}
	}
	again, err := s.CreateCase(ctx, &intakev1.CreateCaseRequest{Case: referral()})
	if err != nil || again.GetCase().GetExternalId() != "DY-2026-0815" || again.GetCase().GetSourceSystem() != "330421102-xfxt" {
		t.Fatalf("re-send: %v, %v", again.GetCase(), err)
	}
	evs, err := outbox.Written(context.Background(), s.Store.Pool)
	if err != nil || len(evs) != 1 {
		t.Fatalf("%d events, %v; want 1", len(evs), err)
	}
	_, err = s.CreateCase(authtest.As(t, "demo-xitang"), &intakev1.CreateCaseRequest{Case: referral()})
	if rpcerr.Code(err) != codes.AlreadyExists || rpcerr.Reason(err) != "EXTERNAL_ID_TAKEN" || strings.Contains(err.Error(), nums[0]) {
		t.Fatalf("another office re-using the pair: %v", err)
	}

	bad := []struct {
		name   string
		mutate func(c *intakev1.Case)
		fields string
	}{
		{"referral_without_ids", func(c *intakev1.Case) { c.SourceSystem, c.ExternalId = "", "" }, "case.source_system,case.external_id"},
		{"half_a_pair", func(c *intakev1.Case) { c.ExternalId = "" }, "case.external_id"},
		{"pair_on_a_visit_needs_both", func(c *intakev1.Case) { c.Channel, c.SourceSystem = intakev1.Channel_CHANNEL_VISIT, "" }, "case.source_system"},
		{"bad_source", func(c *intakev1.Case) { c.SourceSystem = "县 系统" }, "case.source_system"},
		{"long_external", func(c *intakev1.Case) { c.ExternalId = strings.Repeat("x", 129) }, "case.external_id"},
	}
	for _, tc := range bad {
		c := referral()
		tc.mutate(c)
		_, err := s.CreateCase(ctx, &intakev1.CreateCaseRequest{Case: c})
		if f := strings.Join(rpcerr.Fields(err), ","); f != tc.fields {
			t.Errorf("%s: %v, want violations of %s", tc.name, err, tc.fields)
		}
	}
}

// TestRepeatDetection: the same petitioner about the same matter within the
// window is a repeat of the first case; another matter, another petitioner
// or a case outside the window is not; clerks link and unlink by hand.
func TestRepeatDetection(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.RepeatWindow = 10 * 24 * time.Hour
	ctx := authtest.As(t, "demo-dayun")
	at := func(day int, mutate func(c *intakev1.Case)) *intakev1.Case {
		t.Helper()
		c := validCase()
		c.Topic = "城乡建设/排水"
		c.ReceiveTime = timestamppb.New(time.Date(2026, 10, day, 9, 0, 0, 0, time.UTC))
		if mutate != nil {
			mutate(c)
		}
		resp, err := s.CreateCase(ctx, &intakev1.CreateCaseRequest{Case: c})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetCase()
	}
	first := at(1, nil)
	if first.GetRepeat() {
		t.Fatal("the first case is a repeat")
	}
	second := at(10, func(c *intakev1.Case) { c.Petitioners[0].IdNumber = "" }) // matched by phone
	third := at(11, func(c *intakev1.Case) { c.Petitioners[0].Phone = "" })     // matched by ID number
	for _, c := range []*intakev1.Case{second, third} {
		if !c.GetRepeat() || c.GetRepeatOf() != first.GetName() {
			t.Errorf("%s: repeat %v of %q, want a repeat of %s", c.GetName(), c.GetRepeat(), c.GetRepeatOf(), first.GetName())
		}
	}
	others := map[string]*intakev1.Case{
		"other_topic":    at(21, func(c *intakev1.Case) { c.Topic = "劳动保障/欠薪" }),
		"other_township": at(21, func(c *intakev1.Case) { c.Township = "330421103" }),
		"other_petitioner": at(21, func(c *intakev1.Case) {
			c.Petitioners[0].IdNumber, c.Petitioners[0].Phone = "330421198503150024", "13900001111"
		}),
		"anonymous":      at(21, func(c *intakev1.Case) { c.Petitioners, c.Anonymous = nil, true }),
		"outside_window": at(30, func(c *intakev1.Case) { c.ReceiveTime = timestamppb.New(time.Date(2026, 11, 15, 9, 0, 0, 0, time.UTC)) }),
	}
	for name, c := range others {
		if c.GetRepeat() {
			t.Errorf("%s: flagged as a repeat of %s", name, c.GetRepeatOf())
		}
	}
	// Each new case looks back one window for any case of the matter and
	// links to the matter's first case: 11-24 reaches the 11-15 case.
	later := at(30, func(c *intakev1.Case) { c.ReceiveTime = timestamppb.New(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)) })
	if later.GetRepeatOf() != others["outside_window"].GetName() {
		t.Errorf("a case within the window of another links to it, got %q", later.GetRepeatOf())
	}

	// Another township sees the flag but not the earlier case's number.
	bureau := authtest.As(t, "demo-bureau")
	got, err := s.GetCase(bureau, &intakev1.GetCaseRequest{Name: second.GetName()})
	if err != nil || got.GetCase().GetRepeatOf() != first.GetName() {
		t.Fatalf("bureau: %v, %v", got.GetCase().GetRepeatOf(), err)
	}

	// By hand: unlink a false match, link a missed one; links stay one level
	// deep, cycles are refused, other townships may not touch them.
	other := others["other_topic"]
	if r, err := s.UnlinkRepeat(ctx, &intakev1.UnlinkRepeatRequest{Name: second.GetName()}); err != nil || r.GetCase().GetRepeat() {
		t.Fatalf("unlink: %v, %v", r.GetCase(), err)
	}
	if r, err := s.LinkRepeat(ctx, &intakev1.LinkRepeatRequest{Name: other.GetName(), RepeatOf: third.GetName()}); err != nil || r.GetCase().GetRepeatOf() != first.GetName() {
		t.Fatalf("link to a repeat goes to its first case: %v, %v", r.GetCase().GetRepeatOf(), err)
	}
	if _, err := s.LinkRepeat(ctx, &intakev1.LinkRepeatRequest{Name: first.GetName(), RepeatOf: third.GetName()}); rpcerr.Code(err) != codes.FailedPrecondition || rpcerr.Reason(err) != "REPEAT_CYCLE" {
		t.Fatalf("cycle: %v", err)
	}
	if _, err := s.LinkRepeat(authtest.As(t, "demo-xitang"), &intakev1.LinkRepeatRequest{Name: second.GetName(), RepeatOf: first.GetName()}); rpcerr.Code(err) != codes.NotFound {
		t.Fatalf("another township: %v", err)
	}
	if _, err := s.LinkRepeat(ctx, &intakev1.LinkRepeatRequest{Name: second.GetName(), RepeatOf: "nonsense"}); rpcerr.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad repeat_of: %v", err)
	}
	// Re-pointing a first case moves its repeats along.
	if _, err := s.LinkRepeat(bureau, &intakev1.LinkRepeatRequest{Name: first.GetName(), RepeatOf: second.GetName()}); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetCase(ctx, &intakev1.GetCaseRequest{Name: third.GetName()})
	if err != nil || got.GetCase().GetRepeatOf() != second.GetName() {
		t.Fatalf("after re-pointing, the third case repeats %q, %v; want %s", got.GetCase().GetRepeatOf(), err, second.GetName())
	}
	evs, err := outbox.Written(context.Background(), s.Store.Pool)
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	for _, e := range evs {
		if e.GetCaseRepeatChanged() != nil {
			changes++
		}
	}
	if changes != 3 {
		t.Errorf("%d repeat-change events, want 3 (unlink, link, re-point)", changes)
	}
}

// TestListFiltersAndPages: every filter narrows, each order holds, and
// paging through with small pages returns every case once.
func TestListFiltersAndPages(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	bureau := authtest.As(t, "demo-bureau")
	type spec struct {
		day      int
		township string
		channel  intakev1.Channel
		class    intakev1.CaseClass
		subject  string
	}
	specs := []spec{
		{1, "330421102", intakev1.Channel_CHANNEL_VISIT, intakev1.CaseClass_CASE_CLASS_CLAIM, "雨污管网破损"},
		{3, "330421103", intakev1.Channel_CHANNEL_LETTER, intakev1.CaseClass_CASE_CLASS_SUGGESTION, "建议增设公交站"},
		{5, "330421102", intakev1.Channel_CHANNEL_PHONE, intakev1.CaseClass_CASE_CLASS_CLAIM, "欠薪"},
		{7, "330421001", intakev1.Channel_CHANNEL_WEB, intakev1.CaseClass_CASE_CLASS_ACCUSATION, "村干部侵占补偿款"},
		{9, "330421102", intakev1.Channel_CHANNEL_VISIT, intakev1.CaseClass_CASE_CLASS_CLAIM, "管网维修进度"},
	}
	names := map[int]string{}
	for _, sp := range specs {
		c := validCase()
		c.Township, c.Channel, c.CaseClass, c.Subject = sp.township, sp.channel, sp.class, sp.subject
		c.ReceiveTime = timestamppb.New(time.Date(2026, 11, sp.day, 9, 0, 0, 0, time.UTC))
		c.Petitioners[0].IdNumber, c.Petitioners[0].Phone = "", "" // no repeats here
		resp, err := s.CreateCase(bureau, &intakev1.CreateCaseRequest{Case: c})
		if err != nil {
			t.Fatal(err)
		}
		names[sp.day] = resp.GetCase().GetName()
	}
	list := func(req *intakev1.ListCasesRequest) []int {
		t.Helper()
		var days []int
		for {
			resp, err := s.ListCases(bureau, req)
			if err != nil {
				t.Fatalf("ListCases(%v): %v", req, err)
			}
			for _, c := range resp.GetCases() {
				days = append(days, c.GetReceiveTime().AsTime().Day())
			}
			if resp.GetNextPageToken() == "" {
				return days
			}
			req.PageToken = resp.GetNextPageToken()
		}
	}
	nov := func(day int) *timestamppb.Timestamp {
		return timestamppb.New(time.Date(2026, 11, day, 0, 0, 0, 0, time.UTC))
	}
	tests := []struct {
		name string
		req  *intakev1.ListCasesRequest
		want []int
	}{
		{"all_newest_registered", &intakev1.ListCasesRequest{PageSize: 2}, []int{9, 7, 5, 3, 1}},
		{"oldest_received", &intakev1.ListCasesRequest{PageSize: 2, OrderBy: "receive_time"}, []int{1, 3, 5, 7, 9}},
		{"newest_received", &intakev1.ListCasesRequest{PageSize: 3, OrderBy: "receive_time desc"}, []int{9, 7, 5, 3, 1}},
		{"township", &intakev1.ListCasesRequest{PageSize: 1, Township: "330421102", OrderBy: "receive_time"}, []int{1, 5, 9}},
		{"channel", &intakev1.ListCasesRequest{Channel: intakev1.Channel_CHANNEL_VISIT, OrderBy: "receive_time"}, []int{1, 9}},
		{"class", &intakev1.ListCasesRequest{CaseClass: intakev1.CaseClass_CASE_CLASS_CLAIM, OrderBy: "receive_time"}, []int{1, 5, 9}},
		{"received_range", &intakev1.ListCasesRequest{ReceiveTimeFrom: nov(3), ReceiveTimeTo: nov(8), OrderBy: "receive_time"}, []int{3, 5, 7}},
		{"subject_text", &intakev1.ListCasesRequest{SubjectContains: "管网", OrderBy: "receive_time"}, []int{1, 9}},
		{"state", &intakev1.ListCasesRequest{State: assignmentv1.CaseState_CASE_STATE_ANSWERED}, nil},
		{"wildcards_are_text", &intakev1.ListCasesRequest{SubjectContains: "%"}, nil},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, list(tc.req)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}

	first, err := s.ListCases(bureau, &intakev1.ListCasesRequest{PageSize: 2, Township: "330421102"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ListCases(bureau, &intakev1.ListCasesRequest{PageSize: 2, Township: "330421103", PageToken: first.GetNextPageToken()})
	if rpcerr.Code(err) != codes.InvalidArgument {
		t.Errorf("token reused with another filter: %v", err)
	}
	_, err = s.ListCases(bureau, &intakev1.ListCasesRequest{OrderBy: "subject", Township: "999", State: 42, ReceiveTimeFrom: nov(8), ReceiveTimeTo: nov(3)})
	got := rpcerr.Fields(err)
	sort.Strings(got)
	if diff := cmp.Diff([]string{"order_by", "receive_time_to", "state", "township"}, got); diff != "" {
		t.Errorf("bad list request (-want +got):\n%s", diff)
	}
	basic, err := s.ListCases(bureau, &intakev1.ListCasesRequest{PageSize: 1})
	if err != nil || len(basic.GetCases()[0].GetPetitioners()) != 0 {
		t.Errorf("BASIC view carries petitioners: %v, %v", basic, err)
	}
	full, err := s.ListCases(bureau, &intakev1.ListCasesRequest{PageSize: 1, View: intakev1.CaseView_CASE_VIEW_FULL})
	if err != nil || len(full.GetCases()[0].GetPetitioners()) != 1 || full.GetCases()[0].GetPetitioners()[0].GetDisplayName() != "张*" {
		t.Errorf("FULL view of a list: %v, %v", full, err)
	}
}

// mask is an update mask of paths.
func mask(p ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: p} }

// TestUpdateCase: the registering office corrects chosen fields with a
// current etag; each correction is recorded; petitioners are re-sealed;
// routing fields stay; others may not correct.
func TestUpdateCase(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := authtest.As(t, "demo-dayun")
	created, err := s.CreateCase(ctx, &intakev1.CreateCaseRequest{Case: validCase()})
	if err != nil {
		t.Fatal(err)
	}
	name, etag0 := created.GetCase().GetName(), created.GetCase().GetEtag()
	upd := &intakev1.UpdateCaseRequest{
		Case: &intakev1.Case{Name: name, Etag: etag0, Subject: "小区雨污管网破损（更正）",
			Petitioners: []*intakev1.Petitioner{{DisplayName: "张三", IdNumber: "330421198503150024", Phone: phone}}},
		UpdateMask: mask("subject", "petitioners"), RequestId: "fix-1",
	}
	r1, err := s.UpdateCase(ctx, upd)
	if err != nil {
		t.Fatal(err)
	}
	c := r1.GetCase()
	if c.GetSubject() != "小区雨污管网破损（更正）" || c.GetPetitioners()[0].GetIdNumber() != "330421198503150024" ||
		c.GetContent() != validCase().GetContent() || c.GetEtag() == etag0 {
		t.Fatalf("after correction: %v", c)
	}
	if again, err := s.UpdateCase(ctx, upd); err != nil || again.GetCase().GetEtag() != c.GetEtag() {
		t.Fatalf("retry: %v, %v", again.GetCase().GetEtag(), err)
	}
	stale := &intakev1.UpdateCaseRequest{Case: &intakev1.Case{Name: name, Etag: etag0, Topic: "x"}, UpdateMask: mask("topic")}
	if _, err := s.UpdateCase(ctx, stale); rpcerr.Code(err) != codes.Aborted {
		t.Errorf("stale etag: %v", err)
	}
	tests := []struct {
		name  string
		token string
		req   *intakev1.UpdateCaseRequest
		code  codes.Code
		field string
	}{
		{"routing_field", "demo-dayun", &intakev1.UpdateCaseRequest{Case: &intakev1.Case{Name: name, Township: "330421103"}, UpdateMask: mask("township")}, codes.InvalidArgument, "update_mask"},
		{"empty_mask", "demo-dayun", &intakev1.UpdateCaseRequest{Case: &intakev1.Case{Name: name}, UpdateMask: mask()}, codes.InvalidArgument, "update_mask"},
		{"bad_value", "demo-dayun", &intakev1.UpdateCaseRequest{Case: &intakev1.Case{Name: name, Subject: ""}, UpdateMask: mask("subject")}, codes.InvalidArgument, "case.subject"},
		{"bad_petitioner", "demo-dayun", &intakev1.UpdateCaseRequest{Case: &intakev1.Case{Name: name,
			Petitioners: []*intakev1.Petitioner{{DisplayName: "张三", IdNumber: "330421199001011247"}}}, UpdateMask: mask("petitioners")}, codes.InvalidArgument, "case.petitioners[0].id_number"},
		{"receive_time_missing", "demo-dayun", &intakev1.UpdateCaseRequest{Case: &intakev1.Case{Name: name}, UpdateMask: mask("receive_time")}, codes.InvalidArgument, "case.receive_time"},
		{"bureau_may_not_correct", "demo-bureau", &intakev1.UpdateCaseRequest{Case: &intakev1.Case{Name: name, Topic: "x"}, UpdateMask: mask("topic")}, codes.PermissionDenied, ""},
		{"other_township", "demo-xitang", &intakev1.UpdateCaseRequest{Case: &intakev1.Case{Name: name, Topic: "x"}, UpdateMask: mask("topic")}, codes.NotFound, ""},
	}
	for _, tc := range tests {
		_, err := s.UpdateCase(authtest.As(t, tc.token), tc.req)
		if rpcerr.Code(err) != tc.code || (tc.field != "" && !slices.Contains(rpcerr.Fields(err), tc.field)) {
			t.Errorf("%s: %v, want %v on %q", tc.name, err, tc.code, tc.field)
		}
	}
	bg := context.Background()
	var changes int
	var fields []string
	if err := s.Store.Pool.QueryRow(bg, `SELECT count(*), max(fields::text) FROM case_changes`).Scan(&changes, new(string)); err != nil || changes != 1 {
		t.Fatalf("%d recorded corrections, %v; want 1", changes, err)
	}
	if err := s.Store.Pool.QueryRow(bg, `SELECT fields FROM case_changes`).Scan(&fields); err != nil || strings.Join(fields, ",") != "petitioners,subject" {
		t.Fatalf("recorded fields %v, %v", fields, err)
	}
	var hashes int
	if err := s.Store.Pool.QueryRow(bg, `SELECT count(*) FROM petitioners WHERE id_number_hash = $1`, s.Store.Keys.Hash("id_number", "330421198503150024")).Scan(&hashes); err != nil || hashes != 1 {
		t.Fatalf("re-sealed petitioner found %d times by hash, %v", hashes, err)
	}
}

// TestCaseEtag: the etag is the case's across the services: the
// registration's version, and the last move projected from assignment. A
// correction checks its own part only, and answers with what the client has
// seen.
func TestCaseEtag(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := authtest.As(t, "demo-dayun")
	created, err := s.CreateCase(ctx, &intakev1.CreateCaseRequest{Case: validCase()})
	if err != nil {
		t.Fatal(err)
	}
	c, name := created.GetCase(), created.GetCase().GetName()
	if c.GetEtag() != `"1.1"` { // its REGISTER move is known before it arrives
		t.Errorf("a new case's etag = %s, want \"1.1\"", c.GetEtag())
	}
	moved := &eventsv1.Event{CaseNumber: c.GetCaseNumber(), Payload: &eventsv1.Event_CaseMoved{CaseMoved: &eventsv1.CaseMoved{Entry: &assignmentv1.HistoryEntry{
		Sequence: 4, Action: assignmentv1.Action_ACTION_SET_URGENCY, ToState: assignmentv1.CaseState_CASE_STATE_REGISTERED, ToOffice: "offices/330421102",
	}}}}
	if err := pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error { return s.ProjectMove(ctx, tx, moved) }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ sent, want string }{
		{`"1.1"`, `"2.4"`}, // the moves' part behind: not intake's to check
		{`"2.6"`, `"3.6"`}, // the client has seen moves the feed has not brought yet
		{`3.6`, `"4.6"`},   // bare, as typed; the echo is this answer's, never stored
	} {
		r, err := s.UpdateCase(ctx, &intakev1.UpdateCaseRequest{Case: &intakev1.Case{Name: name, Etag: tc.sent, Topic: "市政/排水" + tc.sent}, UpdateMask: mask("topic")})
		if err != nil || r.GetCase().GetEtag() != tc.want {
			t.Errorf("correcting with %s: etag %s, %v; want %s", tc.sent, r.GetCase().GetEtag(), err, tc.want)
		}
	}
	if got, err := s.GetCase(ctx, &intakev1.GetCaseRequest{Name: name}); err != nil || got.GetCase().GetEtag() != `"4.4"` {
		t.Errorf("read: %v, %v; want etag \"4.4\"", got.GetCase().GetEtag(), err)
	}
}

// TestAttachments: the registering office attaches files; offices that may
// see the case list them and download the ones that do not show identity.
func TestAttachments(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dayun := authtest.As(t, "demo-dayun")
	created, err := s.CreateCase(dayun, &intakev1.CreateCaseRequest{Case: validCase()})
	if err != nil {
		t.Fatal(err)
	}
	parent := created.GetCase().GetName()
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, image.NewGray(image.Rect(0, 0, 32, 32)), nil); err != nil {
		t.Fatal(err)
	}
	photo := jpg.Bytes()
	add := func(token, filename string, identity bool, content []byte) (*intakev1.Attachment, error) {
		r, err := s.CreateAttachment(authtest.As(t, token), &intakev1.CreateAttachmentRequest{
			Parent: parent, Content: content, RequestId: "att-" + filename,
			Attachment: &intakev1.Attachment{Filename: filename, MediaType: "image/jpeg", ContainsIdentity: identity},
		})
		return r.GetAttachment(), err
	}
	a1, err := add("demo-dayun", "管网照片.jpg", false, photo)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(photo)
	if a1.GetName() != parent+"/attachments/1" || a1.GetSizeBytes() != int64(len(photo)) || a1.GetSha256() != hex.EncodeToString(sum[:]) {
		t.Fatalf("attachment = %v", a1)
	}
	if again, err := add("demo-dayun", "管网照片.jpg", false, photo); err != nil || again.GetName() != a1.GetName() {
		t.Fatalf("retry: %v, %v", again, err)
	}
	a2, err := add("demo-dayun", "身份证.jpg", true, []byte("id card scan"))
	if err != nil {
		t.Fatal(err)
	}
	if a2.GetMediaType() != "text/plain; charset=utf-8" {
		t.Errorf("text declared as a JPEG stored as %q, want what its bytes are", a2.GetMediaType())
	}
	// Files a browser or a computer would run are refused by what they
	// are, whatever their name or declared type; nothing is stored.
	for _, bad := range []struct {
		filename, declared, says string
		content                  []byte
	}{
		{"说明.html", "text/html", "HTML (text/html)", []byte("<html><body><script>fetch('/v1/cases')</script></body></html>")},
		{"来信扫描.pdf", "application/pdf", "EXE (application/vnd.microsoft.portable-executable)", append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00"), make([]byte, 128)...)},
		{"图.jpg", "image/jpeg", "SVG (image/svg+xml)", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`)},
	} {
		_, err := s.CreateAttachment(dayun, &intakev1.CreateAttachmentRequest{
			Parent: parent, Content: bad.content, RequestId: "bad-" + bad.filename,
			Attachment: &intakev1.Attachment{Filename: bad.filename, MediaType: bad.declared},
		})
		if rpcerr.Code(err) != codes.InvalidArgument || !slices.Equal(rpcerr.Fields(err), []string{"content"}) ||
			!strings.Contains(err.Error(), bad.says) || !strings.Contains(err.Error(), "may not be attached") {
			t.Errorf("%s (%s): %v, want 400 on content naming %s", bad.filename, bad.declared, err, bad.says)
		}
	}
	if _, err := add("demo-bureau", "x.jpg", false, photo); rpcerr.Code(err) != codes.PermissionDenied {
		t.Errorf("bureau (neither registering nor holding) attached: %v", err)
	}
	if _, err := add("demo-xitang", "x.jpg", false, photo); rpcerr.Code(err) != codes.NotFound {
		t.Errorf("another township attached: %v", err)
	}
	_, err = s.CreateAttachment(dayun, &intakev1.CreateAttachmentRequest{Parent: parent, Attachment: &intakev1.Attachment{Filename: "../x", MediaType: "nonsense"}})
	got := rpcerr.Fields(err)
	sort.Strings(got)
	if diff := cmp.Diff([]string{"attachment.filename", "attachment.media_type", "content"}, got); diff != "" {
		t.Errorf("bad attachment (-want +got):\n%s", diff)
	}

	list, err := s.ListAttachments(authtest.As(t, "demo-bureau"), &intakev1.ListAttachmentsRequest{Parent: parent})
	if err != nil || len(list.GetAttachments()) != 2 {
		t.Fatalf("bureau lists %v, %v", list, err)
	}
	download := func(token, name string) ([]byte, error) {
		b, err := s.GetAttachmentContent(authtest.As(t, token), &intakev1.GetAttachmentContentRequest{Name: name})
		if want := map[string]string{a1.GetName(): "image/jpeg", a2.GetName(): "text/plain; charset=utf-8"}[name]; err == nil && b.GetContentType() != want {
			t.Errorf("%s served as %q, want %q", name, b.GetContentType(), want)
		}
		return b.GetData(), err
	}
	if b, err := download("demo-bureau", a1.GetName()); err != nil || !bytes.Equal(b, photo) {
		t.Fatalf("bureau downloads the photo: %d bytes, %v", len(b), err)
	}
	if _, err := download("demo-bureau", a2.GetName()); rpcerr.Code(err) != codes.PermissionDenied {
		t.Errorf("bureau downloads an ID scan: %v", err)
	}
	if b, err := download("demo-dayun", a2.GetName()); err != nil || string(b) != "id card scan" {
		t.Errorf("registering office downloads the ID scan: %q, %v", b, err)
	}
	if _, err := download("demo-xitang", a1.GetName()); rpcerr.Code(err) != codes.NotFound {
		t.Errorf("another township downloads: %v", err)
	}
	if _, err := download("demo-dayun", parent+"/attachments/9"); rpcerr.Code(err) != codes.NotFound {
		t.Errorf("missing attachment: %v", err)
	}
}

// TestRetention: once a case has ended longer ago than the retention
// period, its petitioners' identity and free text are removed, its figures
// and history stay, the act is in the audit log (whose chain verifies), a
// case that ended recently or is still open keeps its identity, and a
// second run changes nothing.
func TestRetention(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := context.Background()
	register := func() string {
		c := validCase()
		c.HeadCount = 1
		r, err := s.CreateCase(authtest.As(t, "demo-dayun"), &intakev1.CreateCaseRequest{Case: c})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetCase().GetCaseNumber()
	}
	project := func(num string, seq int64, state assignmentv1.CaseState, at time.Time) {
		ev := &eventsv1.Event{CaseNumber: num, Payload: &eventsv1.Event_CaseMoved{CaseMoved: &eventsv1.CaseMoved{Entry: &assignmentv1.HistoryEntry{
			Sequence: seq, Action: assignmentv1.Action_ACTION_CLOSE, ToState: state, ToOffice: "offices/330421102", Time: timestamppb.New(at),
		}}}}
		if err := pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error { return s.ProjectMove(ctx, tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	old, recent, open := register(), register(), register()
	project(old, 1, assignmentv1.CaseState_CASE_STATE_CLOSED, s.Now().AddDate(-6, 0, 0))
	project(recent, 1, assignmentv1.CaseState_CASE_STATE_FINAL, s.Now().AddDate(-1, 0, 0))
	project(open, 1, assignmentv1.CaseState_CASE_STATE_IN_HANDLING, s.Now().AddDate(-7, 0, 0))
	period := 1826 * 24 * time.Hour
	if n, err := s.Retain(ctx, period); err != nil || n != 1 {
		t.Fatalf("retain: %d, %v", n, err)
	}
	get := func(num string) *intakev1.Case {
		r, err := s.GetCase(authtest.As(t, "demo-dayun"), &intakev1.GetCaseRequest{Name: "cases/" + num})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetCase()
	}
	gone := get(old)
	if p := gone.GetPetitioners(); len(p) != 1 || p[0].GetIdNumber() != "" || p[0].GetPhone() != "" || p[0].GetDisplayName() != "" ||
		strings.Contains(gone.GetContent(), "东云村") || gone.GetSubject() != validCase().GetSubject() || gone.GetHeadCount() != 1 || len(gone.GetHistory()) != 1 {
		t.Errorf("anonymised case: %v", gone)
	}
	for _, num := range []string{recent, open} {
		if p := get(num).GetPetitioners(); len(p) != 1 || p[0].GetIdNumber() != idNumber {
			t.Errorf("case %s lost its identity: %v", num, p)
		}
	}
	// The lookup hashes are gone too: the old case no longer matches the
	// petitioner's ID in repeat detection.
	var hashes int
	if err := s.Store.Pool.QueryRow(ctx, `SELECT count(*) FROM petitioners WHERE case_number = $1 AND (id_number_hash IS NOT NULL OR phone_hash IS NOT NULL)`, old).Scan(&hashes); err != nil || hashes != 0 {
		t.Errorf("lookup hashes left: %d, %v", hashes, err)
	}
	if n, err := s.Retain(ctx, period); err != nil || n != 0 {
		t.Errorf("second run: %d, %v", n, err)
	}
	entries, err := audit.List(ctx, s.Store.Pool, audit.Filter{CaseNumber: old, Limit: 10})
	if err != nil || len(entries) == 0 || entries[0].Action != audit.Anonymise || entries[0].Role != "retention" {
		t.Errorf("audit entries of the anonymised case: %v, %v", entries, err)
	}
	if _, err := audit.Verify(ctx, s.Store.Pool); err != nil {
		t.Error(err)
	}
}

// TestCorrectFinishedCase: once a case has ended, its registering office
// corrects nothing; the bureau corrects a typo or contact details with a
// reason, recorded as such; what was decided on stays. Text made of
// ideographic or zero-width spaces is empty, at registration and in a
// correction.
func TestCorrectFinishedCase(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := context.Background()
	dayun, bureau := authtest.As(t, "demo-dayun"), authtest.As(t, "demo-bureau")
	blank := validCase()
	blank.Subject = "\u3000 \u200b\ufeff"
	if _, err := s.CreateCase(dayun, &intakev1.CreateCaseRequest{Case: blank}); !slices.Equal(rpcerr.Fields(err), []string{"case.subject"}) {
		t.Errorf("a subject of blanks: %v", err)
	}
	padded := validCase()
	padded.Subject = "\u3000小区雨污管网破损\u200b "
	created, err := s.CreateCase(dayun, &intakev1.CreateCaseRequest{Case: padded})
	if err != nil || created.GetCase().GetSubject() != "小区雨污管网破损" {
		t.Fatalf("a padded subject is stored as %q (%v)", created.GetCase().GetSubject(), err)
	}
	name, num := created.GetCase().GetName(), created.GetCase().GetCaseNumber()
	ev := &eventsv1.Event{CaseNumber: num, Payload: &eventsv1.Event_CaseMoved{CaseMoved: &eventsv1.CaseMoved{Entry: &assignmentv1.HistoryEntry{
		Sequence: 1, Action: assignmentv1.Action_ACTION_CLOSE, ToState: assignmentv1.CaseState_CASE_STATE_CLOSED, ToOffice: "offices/330421102", Time: timestamppb.Now(),
	}}}}
	if err := pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error { return s.ProjectMove(ctx, tx, ev) }); err != nil {
		t.Fatal(err)
	}
	typo := func(reason string, paths ...string) *intakev1.UpdateCaseRequest {
		return &intakev1.UpdateCaseRequest{Case: &intakev1.Case{Name: name, Subject: "小区雨污管网破损（东云村）", Topic: "城乡建设", Anonymous: true},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}, Reason: reason}
	}
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		req    *intakev1.UpdateCaseRequest
		reason string
	}{
		{"the registering office", dayun, typo("错别字", "subject"), "CASE_ENDED"},
		{"the bureau without a reason", bureau, typo("", "subject"), "CORRECTION_REASON_REQUIRED"},
		{"the bureau with a reason of blanks", bureau, typo("\u3000\u200b", "subject"), "CORRECTION_REASON_REQUIRED"},
		{"the bureau changing the topic", bureau, typo("归类有误", "topic"), "CASE_ENDED"},
		{"the bureau changing anonymity", bureau, typo("当事人要求", "anonymous"), "CASE_ENDED"},
	} {
		_, err := s.UpdateCase(tc.ctx, tc.req)
		if rpcerr.Code(err) != codes.FailedPrecondition || !strings.Contains(fmt.Sprint(rpcerr.Status(err).Details()), tc.reason) {
			t.Errorf("%s: %v, want FAILED_PRECONDITION %s", tc.name, err, tc.reason)
		}
	}
	fixed, err := s.UpdateCase(bureau, typo("事项名称漏写村名", "subject"))
	if err != nil || fixed.GetCase().GetSubject() != "小区雨污管网破损（东云村）" {
		t.Fatalf("the bureau's correction: %v, %v", fixed, err)
	}
	// The registration's identity is as the registering office had it.
	got, err := s.GetCase(dayun, &intakev1.GetCaseRequest{Name: name, View: intakev1.CaseView_CASE_VIEW_FULL})
	if err != nil || got.GetCase().GetPetitioners()[0].GetIdNumber() != idNumber {
		t.Errorf("after the bureau's correction the petitioner is %v (%v)", got.GetCase().GetPetitioners(), err)
	}
	var reason string
	if err := s.Store.Pool.QueryRow(ctx, `SELECT reason FROM case_changes WHERE case_number = $1 ORDER BY version DESC LIMIT 1`, num).Scan(&reason); err != nil || reason != "事项名称漏写村名" {
		t.Errorf("the correction's record: %q, %v", reason, err)
	}
}

// TestRepeatLookupIsBounded: the repeat look-up reads a petitioner's
// store.RepeatsPerHash most recent cases in the window, so a matter older
// than those is not linked automatically, while a matter among them links
// to its first case even when that case is older than the ones read; a
// corrected receive time moves the petitioners' copy the look-up reads by.
func TestRepeatLookupIsBounded(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.RepeatWindow = 90 * 24 * time.Hour
	ctx := authtest.As(t, "demo-dayun")
	day := time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)
	register := func(topic string, at time.Time) *intakev1.Case {
		t.Helper()
		c := validCase()
		c.Topic, c.ReceiveTime = topic, timestamppb.New(at)
		resp, err := s.CreateCase(ctx, &intakev1.CreateCaseRequest{Case: c})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetCase()
	}
	drains := register("城乡建设/排水", day)
	wages := register("劳动保障/欠薪", day.Add(time.Hour))
	for i := range store.RepeatsPerHash {
		if c := register("劳动保障/欠薪", day.Add(time.Duration(i+2)*time.Hour)); c.GetRepeatOf() != wages.GetName() {
			t.Fatalf("wages case %d repeats %q, want %s", i, c.GetRepeatOf(), wages.GetName())
		}
	}
	// The drains case is the petitioner's oldest, behind RepeatsPerHash+1 newer ones: not read.
	if c := register("城乡建设/排水", day.Add(48*time.Hour)); c.GetRepeat() {
		t.Errorf("a matter older than the %d most recent cases was linked to %s", store.RepeatsPerHash, c.GetRepeatOf())
	}
	// The first wages case is not among those read either, but the wages
	// cases read name it as their matter's first.
	if c := register("劳动保障/欠薪", day.Add(49*time.Hour)); c.GetRepeatOf() != wages.GetName() {
		t.Errorf("a wages case repeats %q, want its matter's first case %s", c.GetRepeatOf(), wages.GetName())
	}

	// A corrected receive time moves the petitioners' copy along.
	moved := timestamppb.New(day.Add(72 * time.Hour))
	got, err := s.GetCase(ctx, &intakev1.GetCaseRequest{Name: drains.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateCase(ctx, &intakev1.UpdateCaseRequest{
		Case:       &intakev1.Case{Name: drains.GetName(), Etag: got.GetCase().GetEtag(), ReceiveTime: moved},
		UpdateMask: mask("receive_time"), RequestId: "move-drains",
	}); err != nil {
		t.Fatal(err)
	}
	var stale int
	if err := s.Store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM petitioners p JOIN cases c USING (case_number)
		WHERE p.receive_time <> c.receive_time`).Scan(&stale); err != nil || stale != 0 {
		t.Fatalf("%d petitioners with another receive time than their case's (%v)", stale, err)
	}
}
