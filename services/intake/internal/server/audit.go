package server

import (
	"context"
	"encoding/hex"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/names"
	"github.com/tongban/tongban/services/platform/pagination"
	"github.com/tongban/tongban/services/platform/policy"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

// ListAuditEntries lists the audit log for the county petition bureau.
func (s *Server) ListAuditEntries(ctx context.Context, req *intakev1.ListAuditEntriesRequest) (*intakev1.ListAuditEntriesResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if !policy.May(caller, policy.ReadAudit) {
		return nil, rpcerr.New(codes.PermissionDenied, "AUDIT_FOR_BUREAU", "the audit log is for the county petition bureau's clerks and administrators")
	}
	var v rpcerr.Violations
	f := audit.Filter{}
	if req.GetCase() != "" {
		num, ok := names.CaseNumber(req.GetCase())
		if !ok {
			v.Add("case", names.CaseNumberHint)
		}
		f.CaseNumber = num
	}
	if req.GetOffice() != "" {
		id, ok := names.OfficeID(req.GetOffice())
		if _, known := s.Dir.Office(id); !ok || !known {
			v.Add("office", `is not an office of the county ("offices/{id}")`)
		}
		f.Office = id
	}
	size, err := pagination.Size(req.GetPageSize(), 50, 500)
	if err != nil {
		v.Add("page_size", err.Error())
	}
	scope := "audit|" + f.CaseNumber + "|" + f.Office
	if req.GetPageToken() != "" {
		k, _, err := pagination.ParseKeyset(req.GetPageToken(), scope)
		seq, perr := strconv.ParseInt(k.Key, 10, 64)
		if err != nil || perr != nil {
			v.Add("page_token", "is not a token from a previous call of this list")
		}
		f.BeforeSeq = seq
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	f.Limit = size + 1
	entries, err := audit.List(ctx, s.Store.Pool, f)
	if err != nil {
		return nil, rpcerr.ToStatus(err)
	}
	out := &intakev1.ListAuditEntriesResponse{}
	if len(entries) > size {
		entries = entries[:size]
		out.NextPageToken = pagination.KeysetToken(pagination.Keyset{Key: strconv.FormatInt(entries[size-1].Seq, 10)}, scope)
	}
	for _, e := range entries {
		out.AuditEntries = append(out.AuditEntries, &intakev1.AuditEntry{
			Sequence: e.Seq, Time: timestamppb.New(e.At), Office: names.Office(e.Office), Role: e.Role, Action: e.Action,
			Case: caseName(e.CaseNumber), RequestId: e.RequestID, Peer: e.Peer, Detail: e.Detail, Hash: hex.EncodeToString(e.Hash),
		})
	}
	return out, nil
}
