package server

import (
	"context"
	"errors"
	"time"
	_ "time/tzdata" // Asia/Shanghai on machines without zoneinfo

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/devkit/democlock"
	"github.com/tongban/tongban/services/intake/internal/store"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/idempotency"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pgdb"
)

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
	var v fault.Violations
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
		return nil, err
	}
	key := idempotency.Key{Scope: caller.Office.ID, Method: "CreateCase", RequestID: rid}
	var number string
	// Pipelined: three round trips to PostgreSQL instead of twelve (see
	// TestRegistrationRoundTrips).
	err = pgdb.InPipeline(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		number, err = s.register(ctx, tx, key, req, c, now)
		return err
	})
	if errors.Is(err, store.ErrDuplicateExternal) { // registered concurrently by a twin request
		return s.existingReferral(ctx, caller, c)
	}
	if err != nil {
		return nil, err
	}
	if c.Number != number { // a replay: the case registered by the first call
		if c, err = s.Store.Get(ctx, number); err != nil {
			return nil, err
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
		return nil, err
	}
	prior, err := s.Store.Get(ctx, num)
	if err != nil {
		return nil, err
	}
	if !policy.CanSeeCase(caller, prior.County, prior.Involved) {
		return nil, fault.New(fault.AlreadyExists, "EXTERNAL_ID_TAKEN",
			"another office registered a case with this source_system and external_id",
			"source_system", c.SourceSystem, "external_id", c.ExternalID)
	}
	return one(s, ctx, caller, prior, func(pc *intakev1.Case) *intakev1.CreateCaseResponse { return &intakev1.CreateCaseResponse{Case: pc} })
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
