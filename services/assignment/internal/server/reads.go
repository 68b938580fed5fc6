package server

import (
	"context"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	"github.com/tongban/tongban/services/assignment/internal/store"
	"github.com/tongban/tongban/services/assignment/lifecycle"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/pagination"
)

// ListCaseHistory lists a case's moves, oldest first.
func (s *Server) ListCaseHistory(ctx context.Context, req *assignmentv1.ListCaseHistoryRequest) (*assignmentv1.ListCaseHistoryResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	num, ok := names.CaseNumber(req.GetParent())
	if !ok {
		v.Add("parent", names.CaseNumberHint)
	}
	page := pagination.Read(&v, req.GetPageSize(), req.GetPageToken(), "history/"+req.GetParent())
	if err := v.Err(); err != nil {
		return nil, err
	}
	c, err := s.Store.Get(ctx, num)
	if err == nil && !policy.CanSeeCase(caller, c.County, c.Involved) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fault.Named(err, "parent", req.GetParent())
	}
	entries, err := s.Store.History(ctx, num, page.Offset, page.Size+1)
	if err != nil {
		return nil, err
	}
	resp := &assignmentv1.ListCaseHistoryResponse{Case: s.withActions(ctx, caller, c)}
	entries, resp.NextPageToken = pagination.Trim(page, entries)
	for _, e := range entries {
		resp.Entries = append(resp.Entries, entryProto(e))
	}
	return resp, nil
}

// ListOfficeQueue lists the cases an office holds. An office lists its own
// queue; the county bureau may list any office's.
func (s *Server) ListOfficeQueue(ctx context.Context, req *assignmentv1.ListOfficeQueueRequest) (*assignmentv1.ListOfficeQueueResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	office, ok := s.Dir.OfficeByResource(req.GetParent())
	if !ok {
		v.Add("parent", `must name an office of the county, e.g. "offices/330421102"`)
	}
	page := pagination.Read(&v, req.GetPageSize(), req.GetPageToken(), "queue/"+req.GetParent())
	if err := v.Err(); err != nil {
		return nil, err
	}
	if !policy.ForOffice(caller, office.ID) {
		return nil, fault.New(fault.PermissionDenied, "OTHER_OFFICE_QUEUE", "an office may list only its own queue", "parent", req.GetParent())
	}
	cases, err := s.Store.Queue(ctx, office.ID, queued, page.Offset, page.Size+1)
	if err != nil {
		return nil, err
	}
	resp := &assignmentv1.ListOfficeQueueResponse{}
	cases, resp.NextPageToken = pagination.Trim(page, cases)
	for _, c := range cases {
		resp.Cases = append(resp.Cases, s.withActions(ctx, caller, c))
	}
	return resp, nil
}

// queued are the states in which a case waits on its holder.
var queued = []int16{
	int16(lifecycle.Registered), int16(lifecycle.InHandling), int16(lifecycle.ReturnRequested),
	int16(lifecycle.Routed), int16(lifecycle.ReviewRequested), int16(lifecycle.ReReviewRequested),
}
