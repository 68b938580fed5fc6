package server

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Shanghai on machines without zoneinfo
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/intake/internal/store"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/pagination"
	"github.com/tongban/tongban/services/platform/pgdb"
)

// GetCase returns a case the caller may see, with identity as the caller
// may see it.
func (s *Server) GetCase(ctx context.Context, req *intakev1.GetCaseRequest) (*intakev1.GetCaseResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	num, ok := names.CaseNumber(req.GetName())
	if !ok {
		v.Add("name", names.CaseNumberHint)
	}
	if _, ok := intakev1.CaseView_name[int32(req.GetView())]; !ok {
		v.Add("view", "must be CASE_VIEW_BASIC or CASE_VIEW_FULL")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	c, err := s.Store.Get(ctx, num)
	if err == nil && !policy.CanSeeCase(caller, c.County, c.Involved) {
		err = store.ErrNotFound // the same answer as a missing case: no existence leak
	}
	if err != nil {
		return nil, fault.Named(err, "name", req.GetName())
	}
	resp, err := one(s, ctx, caller, c, func(pc *intakev1.Case) *intakev1.GetCaseResponse {
		// The internal service role (assignment's case cards) reads the
		// card, never the content or the people.
		if req.GetView() == intakev1.CaseView_CASE_VIEW_BASIC || caller.Role == auth.RoleService {
			pc.Content, pc.Petitioners, pc.History = "", nil, nil
		}
		return &intakev1.GetCaseResponse{Case: pc}
	})
	if err != nil {
		return nil, err
	}
	if err := s.auditReads(ctx, resp.GetCase()); err != nil {
		return nil, err
	}
	return resp, nil
}

// auditReads records, before the answer leaves, every case whose
// petitioner identity (an ID or phone number in clear) it shows.
func (s *Server) auditReads(ctx context.Context, cases ...*intakev1.Case) error {
	var entries []audit.Entry
	for _, c := range cases {
		shown := 0
		for _, p := range c.GetPetitioners() {
			if unmasked(p.GetIdNumber()) || unmasked(p.GetPhone()) {
				shown++
			}
		}
		if shown > 0 {
			entries = append(entries, audit.FromCall(ctx, audit.ReadIdentity, c.GetCaseNumber(), "", fmt.Sprintf("petitioners=%d", shown)))
		}
	}
	if len(entries) == 0 {
		return nil
	}
	// Pipelined: two round trips (BEGIN, the setting and the chain's head;
	// the entry, the head's update and COMMIT).
	err := pgdb.InPipeline(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		if !s.DurableReadAudit {
			// The entry is written before the answer leaves, but its commit
			// does not wait for the disk: a power cut or OS crash (not a
			// crash of PostgreSQL or of this service) may lose the last
			// fraction of a second of read entries, as a whole suffix, so
			// the chain still verifies. Changes are always durable.
			if err := pgdb.Later(ctx, tx, `SET LOCAL synchronous_commit = off`); err != nil {
				return err
			}
		}
		return audit.Append(ctx, tx, entries...)
	})
	if err != nil {
		return err // no identity leaves unrecorded
	}
	return nil
}

// unmasked says whether an ID or phone number is shown in clear.
func unmasked(v string) bool { return v != "" && !strings.Contains(v, "*") }

// registerDetail describes a registration for the audit log without
// identity: channel, class and how many petitioners.
func registerDetail(c *store.Case) string {
	return fmt.Sprintf("channel=%s class=%s petitioners=%d", intakev1.Channel(c.Channel), intakev1.CaseClass(c.Class), len(c.Petitioners))
}

// ListCases lists the cases the caller may see.
func (s *Server) ListCases(ctx context.Context, req *intakev1.ListCasesRequest) (*intakev1.ListCasesResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	f, page, err := s.listFilter(caller, req)
	if err != nil {
		return nil, err
	}
	cases, err := s.Store.List(ctx, f, page.size+1)
	if err != nil {
		return nil, err
	}
	resp := &intakev1.ListCasesResponse{}
	if len(cases) > page.size {
		cases = cases[:page.size]
		resp.NextPageToken = pagination.KeysetToken(store.KeysetOf(cases[len(cases)-1], f.Order), page.scope)
	}
	visible, err := s.rootsVisible(ctx, caller, cases)
	if err != nil {
		return nil, err
	}
	for _, c := range cases {
		pc := s.view(caller, c, visible[c.RepeatOf])
		// Lists never carry identity in clear (the access-control issue
		// decides which roles may have it unmasked).
		for i, p := range pc.GetPetitioners() {
			pc.Petitioners[i] = masked(p)
		}
		pc.History = nil
		resp.Cases = append(resp.Cases, pc)
	}
	return resp, nil
}

type listPage struct {
	size  int
	scope string
}

var orders = map[string]store.Order{
	"":                  store.NewestRegistered,
	"create_time desc":  store.NewestRegistered,
	"receive_time desc": store.NewestReceived,
	"receive_time":      store.OldestReceived,
	"receive_time asc":  store.OldestReceived,
}

// listFilter validates a ListCasesRequest (every bad field at once) into a
// store filter and the page.
func (s *Server) listFilter(caller auth.Caller, req *intakev1.ListCasesRequest) (store.ListFilter, listPage, error) {
	var v fault.Violations
	f := store.ListFilter{
		County: caller.County, AllOfCounty: policy.SeesCounty(caller), Office: policy.Principal(caller),
		State: int16(req.GetState()), Township: req.GetTownship(), Channel: int16(req.GetChannel()), Class: int16(req.GetCaseClass()),
		SubjectContains: req.GetSubjectContains(), WithPetitioners: req.GetView() == intakev1.CaseView_CASE_VIEW_FULL,
	}
	if _, ok := assignmentv1.CaseState_name[int32(req.GetState())]; !ok {
		v.Add("state", "is not a case state")
	}
	if _, ok := intakev1.Channel_name[int32(req.GetChannel())]; !ok {
		v.Add("channel", "is not a channel")
	}
	if _, ok := intakev1.CaseClass_name[int32(req.GetCaseClass())]; !ok {
		v.Add("case_class", "is not a case class")
	}
	if _, ok := intakev1.CaseView_name[int32(req.GetView())]; !ok {
		v.Add("view", "must be CASE_VIEW_BASIC or CASE_VIEW_FULL")
	}
	if t := req.GetTownship(); t != "" {
		if o, ok := s.Dir.Office(t); !ok || o.Kind != directory.Township {
			v.Add("township", "is not a township of county "+s.Dir.County.Code)
		}
	}
	for _, r := range []struct {
		field string
		ts    *timestamppb.Timestamp
		dst   *time.Time
	}{{"receive_time_from", req.GetReceiveTimeFrom(), &f.From}, {"receive_time_to", req.GetReceiveTimeTo(), &f.To}} {
		if r.ts == nil {
			continue
		}
		if err := r.ts.CheckValid(); err != nil {
			v.Add(r.field, "is not a valid time")
			continue
		}
		*r.dst = r.ts.AsTime()
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		v.Add("receive_time_to", "must be after receive_time_from")
	}
	if n := utf8.RuneCountInString(req.GetSubjectContains()); n > 50 {
		v.Add("subject_contains", "must be at most 50 characters")
	}
	var ok bool
	if f.Order, ok = orders[strings.ToLower(strings.TrimSpace(req.GetOrderBy()))]; !ok {
		v.Add("order_by", `must be "create_time desc", "receive_time desc" or "receive_time"`)
	}
	size, err := pagination.Size(req.GetPageSize(), 50, 500)
	if err != nil {
		v.Add("page_size", err.Error())
	}
	// The token is bound to the caller, the filters and the order.
	scopeReq := proto.Clone(req).(*intakev1.ListCasesRequest)
	scopeReq.PageSize, scopeReq.PageToken, scopeReq.View = 0, "", 0
	scopeBytes, _ := proto.MarshalOptions{Deterministic: true}.Marshal(scopeReq)
	page := listPage{size: size, scope: "ListCases/" + caller.Office.ID + "/" + string(scopeBytes)}
	if after, ok, err := pagination.ParseKeyset(req.GetPageToken(), page.scope); err != nil {
		v.Add("page_token", "is not a token from a previous call of this list with the same filters")
	} else if ok {
		f.After = &after
	}
	return f, page, v.Err()
}

// one renders a single case for caller into a response.
func one[R any](s *Server, ctx context.Context, caller auth.Caller, c *store.Case, wrap func(*intakev1.Case) R) (R, error) {
	visible, err := s.rootsVisible(ctx, caller, []*store.Case{c})
	if err != nil {
		var zero R
		return zero, err
	}
	return wrap(s.view(caller, c, visible[c.RepeatOf])), nil
}

// rootView is what a case's view shows of the first case of its matter.
type rootView struct {
	visible bool // the caller may see it
	final   bool // it is finally closed after re-review (三级终结)
}

// rootsVisible says which of the cases' repeat roots the caller may see,
// and which are final.
func (s *Server) rootsVisible(ctx context.Context, caller auth.Caller, cases []*store.Case) (map[string]rootView, error) {
	var roots, unread []string
	involved := map[string]store.Root{}
	for _, c := range cases {
		switch {
		case c.RepeatOf == "":
			continue
		case c.RepeatRoot != nil: // a registration's look-up read it
			involved[c.RepeatOf] = *c.RepeatRoot
		default:
			unread = append(unread, c.RepeatOf)
		}
		roots = append(roots, c.RepeatOf)
	}
	if len(roots) == 0 {
		return nil, nil
	}
	if len(unread) > 0 {
		read, err := s.Store.Involved(ctx, unread)
		if err != nil {
			return nil, err
		}
		maps.Copy(involved, read)
	}
	visible := map[string]rootView{}
	for _, r := range roots {
		visible[r] = rootView{
			visible: policy.CanSeeCase(caller, caller.County, involved[r].Involved),
			final:   involved[r].State == int16(assignmentv1.CaseState_CASE_STATE_FINAL),
		}
	}
	return visible, nil
}

// lockVisible locks case num in tx (with its petitioners when full) and
// checks that caller may see it: a case they may not see is reported
// exactly like a missing one, against the request's field.
func (s *Server) lockVisible(ctx context.Context, tx pgx.Tx, caller auth.Caller, num, field, name string, full bool) (*store.Case, error) {
	lock := s.Store.Lock
	if full {
		lock = s.Store.LockFull
	}
	c, err := lock(ctx, tx, num)
	if err == nil && !policy.CanSeeCase(caller, c.County, c.Involved) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fault.Named(err, field, name)
	}
	return c, nil
}

// reread renders case num for caller after a change committed.
func (s *Server) reread(ctx context.Context, caller auth.Caller, num string) (*intakev1.Case, error) {
	c, err := s.Store.Get(ctx, num)
	if err != nil {
		return nil, err
	}
	return one(s, ctx, caller, c, func(pc *intakev1.Case) *intakev1.Case { return pc })
}
