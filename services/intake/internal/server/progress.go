package server

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jackc/pgx/v5"
	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/intake/internal/store"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/pgdb"
)

// ProgressMethod is GetCaseProgress's full name: a public method (no
// caller), see cmd/intake.
const ProgressMethod = "/tongban.intake.v1.IntakeService/GetCaseProgress"

// Wrong query codes a case's public lookup takes in the window.
const (
	maxProgressFailures = 5
	progressWindow      = "15 minutes"
)

// GetCaseProgress tells a petitioner how their case stands.
func (s *Server) GetCaseProgress(ctx context.Context, req *intakev1.GetCaseProgressRequest) (*intakev1.CaseProgress, error) {
	var v fault.Violations
	num, ok := names.CaseNumber(req.GetName())
	if !ok {
		v.Add("name", names.CaseNumberHint)
	}
	code := strings.ToUpper(strings.TrimSpace(req.GetQueryCode()))
	if len(code) != 8 {
		v.Add("query_code", "is the 8 characters printed on the receipt (受理凭证)")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	// The count, the code's check and a wrong code's record under the
	// case number's lock: otherwise guesses sent at once all pass the count.
	// The case is read first, on its own connection: a transaction waiting
	// for the lock holds one, and the holder must not need another.
	c, err := s.Store.GetWithoutIdentity(ctx, num)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fault.Hide(err)
	}
	wrong := err != nil || !s.Store.QueryCodeMatches(c, code)
	var locked bool
	err = pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		failures, err := s.Store.LockProgress(ctx, tx, num, progressWindow)
		if err != nil {
			return err
		}
		if locked = failures >= maxProgressFailures; locked || !wrong {
			return nil
		}
		return s.Store.RecordProgressFailure(ctx, tx, num, progressWindow)
	})
	switch {
	case err != nil:
		return nil, fault.Hide(err)
	case locked:
		return nil, fault.New(fault.ResourceExhausted, "TOO_MANY_ATTEMPTS",
			"too many wrong query codes for this case: try again in 15 minutes")
	case wrong:
		// A missing case and a wrong code answer alike.
		return nil, fault.New(fault.NotFound, "CASE_NOT_FOUND", "no case with this number and query code")
	}
	out := &intakev1.CaseProgress{
		CaseNumber: c.Number, State: assignmentv1.CaseState(c.State), ReceiveTime: timestamppb.New(c.ReceiveTime),
		Holder: s.officeName(c.Holder),
	}
	for _, b := range c.History {
		e := &assignmentv1.HistoryEntry{}
		if proto.Unmarshal(b, e) != nil {
			continue
		}
		office, _ := names.OfficeID(e.GetActorOffice())
		out.Steps = append(out.Steps, &intakev1.ProgressStep{Time: e.GetTime(), Action: e.GetAction(), Office: s.officeName(office)})
	}
	return out, nil
}

// officeName is an office's name, or its id when the directory lacks it.
func (s *Server) officeName(id string) string {
	if o, ok := s.Dir.Office(id); ok {
		return o.Name
	}
	return id
}
