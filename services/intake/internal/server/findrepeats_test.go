package server

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/devkit/authtest"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

// TestFindRepeats: the counter's warning finds a petitioner's earlier
// cases among those the caller may see (the same matter first), refuses bad
// numbers field by field and roles that do not register, and is audited
// without the number. The receipt's query code goes to the registering
// office only.
func TestFindRepeats(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dayun, xitang, bureau := authtest.As(t, "demo-dayun"), authtest.As(t, "demo-xitang"), authtest.As(t, "demo-bureau")
	mine, err := s.CreateCase(dayun, &intakev1.CreateCaseRequest{Case: validCase()})
	if err != nil {
		t.Fatal(err)
	}
	theirs := validCase()
	theirs.Township, theirs.Subject = "330421103", "西塘镇的另一件事"
	if _, err := s.CreateCase(xitang, &intakev1.CreateCaseRequest{Case: theirs}); err != nil {
		t.Fatal(err)
	}
	if code := mine.GetCase().GetQueryCode(); !regexp.MustCompile(`^[0-9A-F]{8}$`).MatchString(code) {
		t.Errorf("query code %q, want 8 characters 0-9A-F", code)
	}
	got, err := s.GetCase(bureau, &intakev1.GetCaseRequest{Name: mine.GetCase().GetName()})
	if err != nil || got.GetCase().GetQueryCode() != "" {
		t.Errorf("the bureau sees the query code %q (%v)", got.GetCase().GetQueryCode(), err)
	}
	if got, _ := s.GetCase(dayun, &intakev1.GetCaseRequest{Name: mine.GetCase().GetName()}); got.GetCase().GetQueryCode() != mine.GetCase().GetQueryCode() {
		t.Errorf("the registering office reads query code %q, registered %q", got.GetCase().GetQueryCode(), mine.GetCase().GetQueryCode())
	}

	find := func(ctx context.Context, req *intakev1.FindRepeatsRequest) []string {
		t.Helper()
		resp, err := s.FindRepeats(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range resp.GetMatches() {
			if m.GetSubject() == "" {
				t.Errorf("match %s has no subject", m.GetCase())
			}
			out = append(out, strings.TrimPrefix(m.GetCase(), "cases/")+map[bool]string{true: " same", false: ""}[m.GetSameMatter()])
		}
		return out
	}
	claim := intakev1.CaseClass_CASE_CLASS_CLAIM
	num := mine.GetCase().GetCaseNumber()
	if got := find(dayun, &intakev1.FindRepeatsRequest{IdNumber: idNumber, Township: "330421102", CaseClass: claim}); !slices.Equal(got, []string{num + " same"}) {
		t.Errorf("大云镇 finds %v, want only its own case as the same matter", got)
	}
	if got := find(dayun, &intakev1.FindRepeatsRequest{Phone: phone}); len(got) != 1 {
		t.Errorf("by phone: %v", got)
	}
	// No identity oracle: the bureau sees both cases, masked, so a lookup
	// by the number finds neither; each township finds its own; an
	// accusation's accuser is found by the office that registered it only.
	if got := find(bureau, &intakev1.FindRepeatsRequest{IdNumber: idNumber, Township: "330421103", CaseClass: claim}); len(got) != 0 {
		t.Errorf("the bureau, which sees the person masked, finds %v", got)
	}
	ours := validCase()
	ours.Subject = "县信访局接待的来访"
	if _, err := s.CreateCase(bureau, &intakev1.CreateCaseRequest{Case: ours}); err != nil {
		t.Fatal(err)
	}
	if got := find(bureau, &intakev1.FindRepeatsRequest{IdNumber: idNumber}); len(got) != 1 {
		t.Errorf("the bureau finds %v, want the one case it registered", got)
	}
	if got := find(xitang, &intakev1.FindRepeatsRequest{Phone: phone}); len(got) != 1 || got[0] == num {
		t.Errorf("西塘镇 finds %v, want its own case only", got)
	}
	accusation := validCase()
	accusation.CaseClass, accusation.Subject = intakev1.CaseClass_CASE_CLASS_ACCUSATION, "检举某站所违规收费"
	accusation.Petitioners = []*intakev1.Petitioner{{DisplayName: "李四", IdNumber: "110101199003074514", Phone: "13900001111"}}
	if _, err := s.CreateCase(xitang, &intakev1.CreateCaseRequest{Case: accusation}); err != nil {
		t.Fatal(err)
	}
	if got := find(bureau, &intakev1.FindRepeatsRequest{IdNumber: "110101199003074514"}); len(got) != 0 {
		t.Errorf("the bureau finds the accuser of 西塘镇's accusation: %v", got)
	}
	if got := find(xitang, &intakev1.FindRepeatsRequest{Phone: "13900001111"}); len(got) != 1 {
		t.Errorf("西塘镇 does not find the accusation it registered: %v", got)
	}
	if got := find(dayun, &intakev1.FindRepeatsRequest{IdNumber: "110101199003074514"}); len(got) != 0 { // 西塘镇's accuser
		t.Errorf("another person: %v", got)
	}

	for name, tc := range map[string]struct {
		req   *intakev1.FindRepeatsRequest
		field string
	}{
		"nothing to look for": {&intakev1.FindRepeatsRequest{}, "id_number"},
		"bad check digit":     {&intakev1.FindRepeatsRequest{IdNumber: idNumber[:17] + "0"}, "id_number"},
		"bad phone":           {&intakev1.FindRepeatsRequest{Phone: "12345"}, "phone"},
		"unknown class":       {&intakev1.FindRepeatsRequest{Phone: phone, CaseClass: 99}, "case_class"},
	} {
		_, err := s.FindRepeats(dayun, tc.req)
		if rpcerr.Code(err) != codes.InvalidArgument || !slices.Contains(rpcerr.Fields(err), tc.field) {
			t.Errorf("%s: %v, want INVALID_ARGUMENT on %s", name, err, tc.field)
		}
	}
	for _, who := range []struct {
		name string
		ctx  context.Context
	}{
		{"a leader", authtest.AsAccount(t, "330421.xfj", policy.RoleLeader, "zhang.wei")},
		{"an outside system", authtest.AsAccount(t, "330421102", "system", "dayun.system")},
		{"the internal service", authtest.Service(t)},
	} {
		if _, err := s.FindRepeats(who.ctx, &intakev1.FindRepeatsRequest{IdNumber: idNumber}); rpcerr.Code(err) != codes.PermissionDenied {
			t.Errorf("%s looks up a petitioner: %v", who.name, err)
		}
	}
	entries, err := audit.List(context.Background(), s.Store.Pool, audit.Filter{Office: "330421102", Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	lookups := 0
	for _, e := range entries {
		if strings.Contains(e.Detail, idNumber) || strings.Contains(e.Detail, phone) {
			t.Errorf("an audit entry holds the number: %+v", e)
		}
		if e.Action == audit.LookupIdentity {
			lookups++
		}
	}
	if lookups != 3 {
		t.Errorf("%d lookups audited for 大云镇, want 3", lookups)
	}
}

// TestFindRepeatsRate: an account's identity lookups are bounded (a burst,
// then a steady lookupRate a minute); the refusal names the limit, and
// another account is not held up.
func TestFindRepeatsRate(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	clerk := authtest.AsAccount(t, "330421102", "clerk", "dayun.clerk")
	refused := 0
	for range lookupRate {
		_, err := s.FindRepeats(clerk, &intakev1.FindRepeatsRequest{Phone: phone})
		if rpcerr.Code(err) == codes.ResourceExhausted {
			refused++
			if rpcerr.Reason(err) != "LOOKUP_RATE" {
				t.Errorf("refused with %v", err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if allowed := lookupRate - refused; allowed < lookupRate/3 || allowed > lookupRate/3+2 {
		t.Errorf("%d of %d lookups at once allowed, want the burst of %d", allowed, lookupRate, lookupRate/3)
	}
	other := authtest.AsAccount(t, "330421102", "clerk", "dayun.other")
	if _, err := s.FindRepeats(other, &intakev1.FindRepeatsRequest{Phone: phone}); err != nil {
		t.Errorf("another account was held up: %v", err)
	}
}

// TestRepeatLinkHidden: registering a person's matter that repeats a case
// the registering office may not see links the two, but the office is not
// told: that would say the person has a case elsewhere. The bureau, which
// sees both, is.
func TestRepeatLinkHidden(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	c := validCase()
	c.Topic = "城乡建设/排水"
	earlier, err := s.CreateCase(authtest.As(t, "demo-bureau"), &intakev1.CreateCaseRequest{Case: c})
	if err != nil {
		t.Fatal(err)
	}
	c = validCase()
	c.Topic = "城乡建设/排水"
	later, err := s.CreateCase(authtest.As(t, "demo-dayun"), &intakev1.CreateCaseRequest{Case: c})
	if err != nil {
		t.Fatal(err)
	}
	if later.GetCase().GetRepeat() || later.GetCase().GetRepeatOf() != "" {
		t.Errorf("the township is told its registration repeats %q, a case it may not see", later.GetCase().GetRepeatOf())
	}
	got, err := s.GetCase(authtest.As(t, "demo-bureau"), &intakev1.GetCaseRequest{Name: later.GetCase().GetName()})
	if err != nil || !got.GetCase().GetRepeat() || got.GetCase().GetRepeatOf() != earlier.GetCase().GetName() {
		t.Errorf("the bureau sees repeat %v of %q (%v), want a repeat of %s", got.GetCase().GetRepeat(), got.GetCase().GetRepeatOf(), err, earlier.GetCase().GetName())
	}
}

// TestFindRepeatsPages: a long history is read a page at a time, newest
// first, each case once whichever of its petitioners or hashes matched,
// only the caller's own registrations; the first page names the case
// registering now links to, the same one registration then links to; a
// token is refused for another lookup.
func TestFindRepeatsPages(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	dayun, xitang := authtest.As(t, "demo-dayun"), authtest.As(t, "demo-xitang")
	now := s.Now()
	register := func(ctx context.Context, township, topic string, age time.Duration, people ...*intakev1.Petitioner) string {
		t.Helper()
		c := validCase()
		c.Township, c.Topic, c.ReceiveTime = township, topic, timestamppb.New(now.Add(-age))
		if people != nil {
			c.Petitioners = people
		}
		resp, err := s.CreateCase(ctx, &intakev1.CreateCaseRequest{Case: c})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetCase().GetName()
	}
	person := func() *intakev1.Petitioner {
		return &intakev1.Petitioner{DisplayName: "张三", IdNumber: idNumber, Phone: phone}
	}
	var want, wages []string // newest first
	drains := register(dayun, "330421102", "城乡建设/排水", 30*time.Hour)
	for i := range 22 {
		// Two petitioners sharing the number and phone: still one match.
		wages = append([]string{register(dayun, "330421102", "劳动保障/欠薪", time.Duration(29-i)*time.Hour, person(), person())}, wages...)
	}
	want = append(wages, drains)
	register(xitang, "330421103", "", 90*time.Minute) // 西塘镇's, not 大云镇's to see
	want = append([]string{register(dayun, "330421102", "", 10*time.Minute, &intakev1.Petitioner{DisplayName: "李四", Phone: phone})}, want...)

	req := &intakev1.FindRepeatsRequest{IdNumber: idNumber, Phone: phone, Township: "330421102",
		CaseClass: intakev1.CaseClass_CASE_CLASS_CLAIM, Topic: "劳动保障/欠薪", PageSize: 10}
	var got []string
	var repeatOf, token string
	for page := 0; ; page++ {
		resp, err := s.FindRepeats(dayun, req)
		if err != nil {
			t.Fatal(err)
		}
		if page == 0 {
			repeatOf, token = resp.GetRepeatOf(), resp.GetNextPageToken()
		} else if resp.GetRepeatOf() != "" {
			t.Errorf("page %d names repeat_of %s: the first page alone says it", page, resp.GetRepeatOf())
		}
		if len(resp.GetMatches()) > 10 {
			t.Fatalf("page %d holds %d matches, asked for 10", page, len(resp.GetMatches()))
		}
		for _, m := range resp.GetMatches() {
			got = append(got, m.GetCase())
			if m.GetSameMatter() != slices.Contains(wages, m.GetCase()) {
				t.Errorf("%s same matter: %v", m.GetCase(), m.GetSameMatter())
			}
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		if page > 5 {
			t.Fatal("the pages do not end")
		}
		req.PageToken = resp.GetNextPageToken()
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages give\n%v\nwant\n%v", got, want)
	}
	// The wages matter's first case is older than the RepeatsPerHash cases
	// the look-up reads, but they name it.
	if first := wages[len(wages)-1]; repeatOf != first {
		t.Errorf("the first page says registering links to %q, want %s", repeatOf, first)
	}
	c := validCase()
	c.Topic = "劳动保障/欠薪"
	resp, err := s.CreateCase(dayun, &intakev1.CreateCaseRequest{Case: c})
	if err != nil || resp.GetCase().GetRepeatOf() != repeatOf {
		t.Errorf("registering then links to %q (%v), FindRepeats said %s", resp.GetCase().GetRepeatOf(), err, repeatOf)
	}

	other := &intakev1.FindRepeatsRequest{Phone: phone, PageToken: token}
	if _, err := s.FindRepeats(dayun, other); rpcerr.Code(err) != codes.InvalidArgument || !slices.Contains(rpcerr.Fields(err), "page_token") {
		t.Errorf("a token of another lookup: %v, want INVALID_ARGUMENT on page_token", err)
	}
	if _, err := s.FindRepeats(xitang, &intakev1.FindRepeatsRequest{IdNumber: idNumber, Phone: phone, Township: "330421102",
		CaseClass: intakev1.CaseClass_CASE_CLASS_CLAIM, Topic: "劳动保障/欠薪", PageSize: 10, PageToken: token}); !slices.Contains(rpcerr.Fields(err), "page_token") {
		t.Errorf("大云镇's token used by 西塘镇: %v, want INVALID_ARGUMENT on page_token", err)
	}
	if resp, err := s.FindRepeats(xitang, &intakev1.FindRepeatsRequest{Phone: phone, Township: "330421102", CaseClass: intakev1.CaseClass_CASE_CLASS_CLAIM}); err != nil || resp.GetRepeatOf() != "" || len(resp.GetMatches()) != 1 {
		t.Errorf("西塘镇 is told %q of 大云镇's matter, %d matches (%v); want nothing of it and its own one", resp.GetRepeatOf(), len(resp.GetMatches()), err)
	}
	if _, err := s.FindRepeats(dayun, &intakev1.FindRepeatsRequest{Phone: phone, PageSize: -1}); !slices.Contains(rpcerr.Fields(err), "page_size") {
		t.Errorf("a negative page size: %v", err)
	}
}
