// Package server implements tongban.intake.v1.IntakeService: validation,
// registration with its CaseRegistered event (server.go), corrections
// (update.go), repeats (repeats.go), attachments (attachments.go) and bulk
// import (import.go), the caller-scoped views, and the consumer that
// projects assignment's moves onto intake's cases.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
	_ "time/tzdata" // Asia/Shanghai on machines without zoneinfo
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/county/caseversion"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/county/ruleset"
	"github.com/tongban/tongban/services/devkit/democlock"
	"github.com/tongban/tongban/services/intake/internal/identity"
	"github.com/tongban/tongban/services/intake/internal/store"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/blob"
	"github.com/tongban/tongban/services/platform/idempotency"
	"github.com/tongban/tongban/services/platform/logging"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pagination"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

// China has one time zone; case-number years and dates follow it.
var shanghai = mustZone("Asia/Shanghai")

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// Server implements IntakeService.
type Server struct {
	intakev1.UnimplementedIntakeServiceServer
	Store *store.Store
	Dir   *directory.Directory
	Rules *ruleset.RuleSet
	// Blobs keeps attachments' bytes.
	Blobs blob.Store
	// DurableReadAudit makes every read of identity wait for its audit
	// entry to reach the disk (INTAKE_DURABLE_READ_AUDIT=true); by default
	// read entries commit without waiting for the flush (see auditReads).
	DurableReadAudit bool
	// RepeatWindow is how far back a new case looks for the earlier case of
	// the same petitioner and matter (重复信访).
	RepeatWindow time.Duration
	// Now is the clock (tests may fix it).
	Now func() time.Time
	// bulkRows is the rows of an import's set-based batch (bulkBatch when
	// 0; tests make it small).
	bulkRows int
	// analyzeRows is the registered rows of an import after which intake
	// analyzes its tables (analyzeAfterRows when 0; tests make it small);
	// analyzing is set while it does.
	analyzeRows int
	analyzing   atomic.Bool
	// lookups bounds FindRepeats per account.
	lookups lookupLimiter
}

// DefaultRepeatWindow is the repeat window unless configured.
const DefaultRepeatWindow = 180 * 24 * time.Hour

// New returns a server over st, dir and blobs, with the county's rule set.
func New(st *store.Store, dir *directory.Directory, blobs blob.Store) (*Server, error) {
	rules, err := ruleset.Get(dir.County.RuleSet)
	if err != nil {
		return nil, err
	}
	return &Server{Store: st, Dir: dir, Rules: rules, Blobs: blobs, RepeatWindow: DefaultRepeatWindow, Now: time.Now}, nil
}

// now is the time of the call, to the microsecond PostgreSQL stores: Now,
// or the demo clock's time when a demonstration load backdates the call.
func (s *Server) now(ctx context.Context) time.Time {
	return democlock.Now(ctx, s.Now).Truncate(time.Microsecond)
}

// CreateCase registers a petition at the caller's office.
func (s *Server) CreateCase(ctx context.Context, req *intakev1.CreateCaseRequest) (*intakev1.CreateCaseResponse, error) {
	caller, err := registrar(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now(ctx) // what PostgreSQL stores
	if err := s.validate(caller.Office.ID, req, now); err != nil {
		return nil, err
	}
	var v rpcerr.Violations
	rid := idempotency.Checked(ctx, req.GetRequestId(), &v) // the Idempotency-Key header too
	if err := v.Err(); err != nil {
		return nil, err
	}
	c := s.newCase(caller, req.GetCase(), now)
	if _, ok := democlock.From(ctx); ok {
		c.CreateTime = now // registered "at" the demo time
	}
	if c.SourceSystem != "" {
		// A system sending a case again gets the first registration.
		if prior, err := s.existingReferral(ctx, caller, c); !errors.Is(err, store.ErrNotFound) {
			return prior, err
		}
	}
	if err := s.Store.PrepareNumbers(ctx, c.County, now.In(shanghai).Year()); err != nil {
		return nil, rpcerr.ToStatus(err)
	}
	key := idempotency.Key{Scope: caller.Office.ID, Method: "CreateCase", RequestID: rid}
	var number string
	// Pipelined: three round trips to PostgreSQL instead of twelve (see
	// TestRegistrationRoundTrips).
	err = pgdb.InPipeline(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		number, err = s.register(ctx, tx, key, req, c, now)
		return err
	})
	if store.IsDuplicateExternal(err) { // registered concurrently by a twin request
		return s.existingReferral(ctx, caller, c)
	}
	if err != nil {
		return nil, rpcerr.ToStatus(err)
	}
	if c.Number != number { // a replay: the case registered by the first call
		if c, err = s.Store.Get(ctx, number); err != nil {
			return nil, rpcerr.ToStatus(err)
		}
	}
	return one(s, ctx, caller, c, func(pc *intakev1.Case) *intakev1.CreateCaseResponse { return &intakev1.CreateCaseResponse{Case: pc} })
}

// registrar returns the caller of a registration: any office's clerk or
// handler, not a service account.
func registrar(ctx context.Context) (auth.Caller, error) {
	return policy.Require(ctx, policy.Register)
}

// newCase is the store row of a validated registration at caller's office.
func (s *Server) newCase(caller auth.Caller, in *intakev1.Case, now time.Time) *store.Case {
	in = cleaned(in) // the text as validate checked it
	c := &store.Case{
		County:         s.Dir.County.Code,
		Township:       in.GetTownship(),
		Channel:        int16(in.GetChannel()),
		Class:          int16(in.GetCaseClass()),
		Topic:          in.GetTopic(),
		Subject:        in.GetSubject(),
		Content:        in.GetContent(),
		Anonymous:      in.GetAnonymous(),
		HeadCount:      headCount(in),
		Petitioners:    petitionersOf(in),
		RegisteredBy:   caller.Office.ID,
		RegisteredRole: caller.Role,
		ReceiveTime:    now,
		State:          int16(assignmentv1.CaseState_CASE_STATE_REGISTERED),
		Holder:         caller.Office.ID,
		Involved:       []string{caller.Office.ID},
		SourceSystem:   in.GetSourceSystem(),
		ExternalID:     in.GetExternalId(),
	}
	if o, ok := s.Dir.OfficeByResource(in.GetAccusedOffice()); ok {
		c.Accused = o.ID
	}
	if in.GetReceiveTime() != nil {
		c.ReceiveTime = in.GetReceiveTime().AsTime().Truncate(time.Microsecond)
	}
	return c
}

// register writes a new case in tx, under its idempotency key: the case
// number, repeat detection, the row with its sealed petitioners and the
// CaseRegistered event. It returns the case number: c's, or on a replay
// the first registration's. The idempotency record keeps only that number:
// a response carries identity, which must not rest in clear anywhere.
func (s *Server) register(ctx context.Context, tx pgx.Tx, key idempotency.Key, req proto.Message, c *store.Case, now time.Time) (string, error) {
	receipt := &intakev1.Case{}
	// The claim, the case's number and the repeat look-up travel in one
	// round trip.
	repeats := s.newRepeatLookup([]*store.Case{c})
	along := func(b *pgx.Batch) error {
		repeats.queue(b)
		return store.QueueNextNumber(b, c.County, now.In(shanghai).Year(), &c.Number)
	}
	_, err := idempotency.DoAlong(ctx, tx, key, req, receipt, along, func() error {
		num := c.Number
		receipt.Name, receipt.CaseNumber = names.Case(num), num
		repeats.link()
		if err := s.Store.Insert(ctx, tx, c); err != nil {
			return err
		}
		if err := audit.Append(ctx, tx, audit.FromCall(ctx, audit.Register, num, key.RequestID, registerDetail(c))); err != nil {
			return err
		}
		return outbox.Append(ctx, tx, s.registered(c))
	})
	return receipt.GetCaseNumber(), err
}

// existingReferral returns the case already registered with c's (source
// system, external id): to an office that may see it, the case; to another,
// ALREADY_EXISTS without its number. ErrNotFound when there is none.
func (s *Server) existingReferral(ctx context.Context, caller auth.Caller, c *store.Case) (*intakev1.CreateCaseResponse, error) {
	num, err := s.Store.FindExternal(ctx, c.SourceSystem, c.ExternalID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		return nil, rpcerr.ToStatus(err)
	}
	prior, err := s.Store.Get(ctx, num)
	if err != nil {
		return nil, rpcerr.ToStatus(err)
	}
	if !policy.CanSeeCase(caller, prior.County, prior.Involved) {
		return nil, rpcerr.New(codes.AlreadyExists, "EXTERNAL_ID_TAKEN",
			"another office registered a case with this source_system and external_id",
			"source_system", c.SourceSystem, "external_id", c.ExternalID)
	}
	return one(s, ctx, caller, prior, func(pc *intakev1.Case) *intakev1.CreateCaseResponse { return &intakev1.CreateCaseResponse{Case: pc} })
}

// GetCase returns a case the caller may see, with identity as the caller
// may see it.
func (s *Server) GetCase(ctx context.Context, req *intakev1.GetCaseRequest) (*intakev1.GetCaseResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v rpcerr.Violations
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
		return nil, rpcerr.ToStatus(err, "name", req.GetName())
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
		return rpcerr.ToStatus(err) // no identity leaves unrecorded
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
		return nil, rpcerr.ToStatus(err)
	}
	resp := &intakev1.ListCasesResponse{}
	if len(cases) > page.size {
		cases = cases[:page.size]
		resp.NextPageToken = pagination.KeysetToken(store.KeysetOf(cases[len(cases)-1], f.Order), page.scope)
	}
	visible, err := s.rootsVisible(ctx, caller, cases)
	if err != nil {
		return nil, rpcerr.ToStatus(err)
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
	var v rpcerr.Violations
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
		return zero, rpcerr.ToStatus(err)
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
	var roots []string
	for _, c := range cases {
		if c.RepeatOf != "" {
			roots = append(roots, c.RepeatOf)
		}
	}
	if len(roots) == 0 {
		return nil, nil
	}
	involved, err := s.Store.Involved(ctx, roots)
	if err != nil {
		return nil, err
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

// version is the case's version across the services: its registration's
// and the last move this service has heard of (every case's first move,
// REGISTER, is known before it arrives).
func version(c *store.Case) caseversion.Version {
	return caseversion.Version{Registration: c.Version, Moves: max(c.Moves, caseversion.Registered.Moves)}
}

func caseName(number string) string {
	if number == "" {
		return ""
	}
	return names.Case(number)
}

// view renders a case for caller; rootVisible says whether the caller may
// see the first case of the matter a repeat points at. Only the registering office sees the
// petitioner's identity in clear; other offices see it masked, and for an
// accusation (检举控告) they see no petitioner at all (信访工作条例 Art 30).
func (s *Server) view(caller auth.Caller, c *store.Case, root rootView) *intakev1.Case {
	out := &intakev1.Case{
		Name:         names.Case(c.Number),
		CaseNumber:   c.Number,
		Channel:      intakev1.Channel(c.Channel),
		ReceiveTime:  timestamppb.New(c.ReceiveTime),
		Township:     c.Township,
		CaseClass:    intakev1.CaseClass(c.Class),
		Subject:      c.Subject,
		Content:      c.Content,
		County:       c.County,
		RegisteredBy: names.Office(c.RegisteredBy),
		CreateTime:   timestamppb.New(c.CreateTime),
		State:        assignmentv1.CaseState(c.State),
		HolderOffice: names.Office(c.Holder),
		SourceSystem: c.SourceSystem,
		ExternalId:   c.ExternalID,
		Topic:        c.Topic,
		Anonymous:    c.Anonymous,
		HeadCount:    c.HeadCount,
		Group:        int(c.HeadCount) >= s.Rules.GroupSize,
		Etag:         version(c).Etag(),
		UpdateTime:   timestamppb.New(c.UpdateTime),
	}
	// That a case repeats an earlier one says the person has another case:
	// shown only to whoever may see that one, or registering with a guessed
	// ID number would tell whether someone has a case elsewhere.
	if root.visible {
		out.Repeat, out.RepeatOf, out.RepeatOfFinal = c.RepeatOf != "", caseName(c.RepeatOf), root.final
	}
	clear := policy.SeesIdentity(caller, c.RegisteredBy)
	if clear && c.QueryCodeHash == nil { // a code drawn before codes were derived is known no more
		out.QueryCode = s.Store.QueryCode(c.Number)
	}
	if c.Accused != "" && caller.Office.ID != c.Accused {
		out.AccusedOffice = names.Office(c.Accused)
	}
	accusation := c.Class == int16(intakev1.CaseClass_CASE_CLASS_ACCUSATION)
	for _, p := range c.Petitioners {
		if !clear && accusation {
			break // the accuser is never shown outside the registering office
		}
		pp := &intakev1.Petitioner{
			Kind: intakev1.PetitionerKind(p.Kind), Representative: p.Representative,
			DisplayName: p.Name, IdNumber: p.IDNumber, Phone: p.Phone,
		}
		if !clear {
			pp = masked(pp)
		}
		out.Petitioners = append(out.Petitioners, pp)
	}
	for _, b := range c.History {
		e := &assignmentv1.HistoryEntry{}
		if err := proto.Unmarshal(b, e); err == nil {
			out.History = append(out.History, e)
		}
	}
	return out
}

// masked hides a person's identity; an organisation's name stays (it is
// not personal), its contact phone is masked.
func masked(p *intakev1.Petitioner) *intakev1.Petitioner {
	name := identity.MaskName(p.GetDisplayName())
	if p.GetKind() == intakev1.PetitionerKind_PETITIONER_KIND_ORGANIZATION {
		name = p.GetDisplayName()
	}
	return &intakev1.Petitioner{
		Kind:           p.GetKind(),
		Representative: p.GetRepresentative(),
		DisplayName:    name,
		IdNumber:       identity.MaskIDNumber(p.GetIdNumber()),
		Phone:          identity.MaskPhone(p.GetPhone()),
	}
}

// petitionersOf converts a case's petitioners for the store.
func petitionersOf(in *intakev1.Case) []store.Petitioner {
	var out []store.Petitioner
	for _, p := range in.GetPetitioners() {
		out = append(out, store.Petitioner{
			Kind: kindOf(p), Representative: p.GetRepresentative(),
			Name: p.GetDisplayName(), IDNumber: p.GetIdNumber(), Phone: p.GetPhone(),
		})
	}
	return out
}

// kindOf is the stored kind of a petitioner: a person unless it says
// organisation.
func kindOf(p *intakev1.Petitioner) int16 {
	if p.GetKind() == intakev1.PetitionerKind_PETITIONER_KIND_ORGANIZATION {
		return int16(intakev1.PetitionerKind_PETITIONER_KIND_ORGANIZATION)
	}
	return int16(intakev1.PetitionerKind_PETITIONER_KIND_PERSON)
}

// headCount is the number of people a petition speaks for: as given, or
// the number of petitioners named, at least 1.
func headCount(c *intakev1.Case) int32 {
	if c.GetHeadCount() > 0 {
		return c.GetHeadCount()
	}
	return max(int32(len(c.GetPetitioners())), 1)
}

// ProjectMove applies one of assignment's events to intake's projection.
func (s *Server) ProjectMove(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	mv := ev.GetCaseMoved()
	if mv == nil {
		return nil
	}
	entry := mv.GetEntry()
	b, err := proto.Marshal(entry)
	if err != nil {
		return fmt.Errorf("marshal history entry: %w", err)
	}
	to, _ := names.OfficeID(entry.GetToOffice())
	st := entry.GetToState()
	return s.Store.ApplyMove(ctx, tx, store.Move{
		Parties:    policy.MoveParties(mv),
		CaseNumber: ev.GetCaseNumber(),
		Sequence:   entry.GetSequence(),
		ToState:    int16(st),
		ToOffice:   to,
		Entry:      b,
		Ends: st == assignmentv1.CaseState_CASE_STATE_CLOSED || st == assignmentv1.CaseState_CASE_STATE_FINAL ||
			st == assignmentv1.CaseState_CASE_STATE_DECLINED,
		Time: entry.GetTime().AsTime(),
	})
}

// Retain anonymises, in batches, the identity of the cases that ended
// more than the retention period before now, recording each in the audit
// log in the same transaction; it returns how many it anonymised.
func (s *Server) Retain(ctx context.Context, period time.Duration) (int, error) {
	total := 0
	for {
		var numbers []string
		err := pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
			var err error
			if numbers, err = s.Store.Anonymise(ctx, tx, s.Now().Add(-period), 200); err != nil || len(numbers) == 0 {
				return err
			}
			entries := make([]audit.Entry, len(numbers))
			for i, n := range numbers {
				entries[i] = audit.Entry{Office: s.Dir.Bureau().ID, Role: "retention", Action: audit.Anonymise, CaseNumber: n,
					Detail: fmt.Sprintf("retention_days=%d", int(period.Hours()/24))}
			}
			return audit.Append(ctx, tx, entries...)
		})
		if err != nil {
			return total, err
		}
		total += len(numbers)
		if len(numbers) < 200 {
			return total, nil
		}
	}
}

// RetentionJob runs Retain every interval until ctx ends.
func (s *Server) RetentionJob(period, interval time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		logger := logging.FromContext(ctx)
		for {
			if n, err := s.Retain(ctx, period); err != nil && ctx.Err() == nil {
				logger.ErrorContext(ctx, "retention: anonymising failed; will retry", slog.String("error", err.Error()))
			} else if n > 0 {
				logger.InfoContext(ctx, "retention: anonymised ended cases", slog.Int("cases", n))
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(interval):
			}
		}
	}
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
		return nil, rpcerr.ToStatus(err, field, name)
	}
	return c, nil
}

// reread renders case num for caller after a change committed.
func (s *Server) reread(ctx context.Context, caller auth.Caller, num string) (*intakev1.Case, error) {
	c, err := s.Store.Get(ctx, num)
	if err != nil {
		return nil, rpcerr.ToStatus(err)
	}
	return one(s, ctx, caller, c, func(pc *intakev1.Case) *intakev1.Case { return pc })
}
