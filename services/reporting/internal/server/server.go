// Package server implements tongban.reporting.v1.ReportingService and the
// consumer that feeds the read model from assignment's events.
package server

import (
	"context"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	reportingv1 "github.com/tongban/tongban/proto/tongban/reporting/v1"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/directory"
	"github.com/tongban/tongban/services/platform/rpcerr"
	"github.com/tongban/tongban/services/reporting/internal/store"
)

// Server implements ReportingService.
type Server struct {
	reportingv1.UnimplementedReportingServiceServer
	Store *store.Store
	Dir   *directory.Directory
}

// GetSummary returns the county's figures; a township sees its own only,
// and a department sees none in the skeleton (its figures come with the
// reporting issue).
func (s *Server) GetSummary(ctx context.Context, req *reportingv1.GetSummaryRequest) (*reportingv1.GetSummaryResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	want := "counties/" + s.Dir.County.Code + "/summary"
	if req.GetName() != want {
		var v rpcerr.Violations
		v.Add("name", `must be "`+want+`" (this deployment serves county `+s.Dir.County.Code+`)`)
		return nil, v.Err()
	}
	var township string
	switch caller.Office.Kind {
	case directory.Bureau:
	case directory.Township:
		township = caller.Office.ID
	default:
		return nil, rpcerr.New(codes.PermissionDenied, "OFFICE_KIND_NOT_ALLOWED", "county figures are for the petition bureau and townships")
	}
	rows, err := s.Store.ByTownship(ctx, s.Dir.County.Code, township)
	if err != nil {
		return nil, rpcerr.ToStatus(err)
	}
	sum := &reportingv1.Summary{Name: want}
	for _, f := range rows {
		sum.Registered += f.Registered
		sum.ReferredUp += f.ReferredUp
		sum.Transferred += f.Transferred
		sum.Answered += f.Answered
		sum.Townships = append(sum.Townships, &reportingv1.TownshipFigures{
			Township: f.Township, Registered: f.Registered, ReferredUp: f.ReferredUp, Answered: f.Answered,
		})
	}
	sum.Open = sum.Registered - sum.Answered
	return &reportingv1.GetSummaryResponse{Summary: sum}, nil
}

// Record applies one of assignment's events to the read model.
func (s *Server) Record(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	mv := ev.GetCaseMoved()
	if mv == nil {
		return nil
	}
	a := mv.GetEntry().GetAction()
	return s.Store.Apply(ctx, tx, store.Fact{
		CaseNumber:  ev.GetCaseNumber(),
		County:      mv.GetCounty(),
		Township:    mv.GetTownship(),
		Registered:  a == assignmentv1.Action_ACTION_REGISTER,
		ReferredUp:  a == assignmentv1.Action_ACTION_REFER_UP,
		Transferred: a == assignmentv1.Action_ACTION_TRANSFER || a == assignmentv1.Action_ACTION_ROUTE,
		Answered:    a == assignmentv1.Action_ACTION_ANSWER,
		At:          mv.GetEntry().GetTime().AsTime(),
	})
}
