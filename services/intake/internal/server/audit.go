package server

import (
	"context"

	auditv1 "github.com/tongban/tongban/proto/tongban/audit/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/platform/audit"
)

// ListAuditEntries lists intake's audit log for the county petition bureau
// (the same as tongban.audit.v1.AuditService on intake, which every service
// serves; kept in IntakeService, where the API first had it).
func (s *Server) ListAuditEntries(ctx context.Context, req *intakev1.ListAuditEntriesRequest) (*intakev1.ListAuditEntriesResponse, error) {
	r, err := (&audit.Server{Pool: s.Store.Pool, Dir: s.Dir}).ListEntries(ctx, &auditv1.ListEntriesRequest{
		Case: req.GetCase(), Office: req.GetOffice(), PageSize: req.GetPageSize(), PageToken: req.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	out := &intakev1.ListAuditEntriesResponse{NextPageToken: r.GetNextPageToken()}
	for _, e := range r.GetEntries() {
		out.AuditEntries = append(out.AuditEntries, &intakev1.AuditEntry{
			Sequence: e.GetSequence(), Time: e.GetTime(), Office: e.GetOffice(), Role: e.GetRole(), Action: e.GetAction(),
			Case: e.GetCase(), RequestId: e.GetRequestId(), Peer: e.GetPeer(), Detail: e.GetDetail(), Hash: e.GetHash(),
		})
	}
	return out, nil
}
