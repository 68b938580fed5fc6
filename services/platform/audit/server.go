package audit

import (
	"context"
	"encoding/hex"
	"strconv"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	auditv1 "github.com/tongban/tongban/proto/tongban/audit/v1"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/pagination"
)

// Server serves a schema's audit log (tongban.audit.v1.AuditService) to
// those the policy lets read it.
type Server struct {
	auditv1.UnimplementedAuditServiceServer
	Pool *pgxpool.Pool
	Dir  *directory.Directory
	// Caller finds the caller of a call (default: the auth interceptor's).
	Caller func(ctx context.Context) (auth.Caller, error)
}

// ListEntries lists the log, newest first.
func (s *Server) ListEntries(ctx context.Context, req *auditv1.ListEntriesRequest) (*auditv1.ListEntriesResponse, error) {
	who := s.Caller
	if who == nil {
		who = auth.Require
	}
	caller, err := who(ctx)
	if err != nil {
		return nil, err
	}
	if !policy.May(caller, policy.ReadAudit) {
		return nil, fault.New(fault.PermissionDenied, "AUDIT_FOR_BUREAU", "the audit log is for the county petition bureau's clerks and administrators")
	}
	var v fault.Violations
	f := Filter{}
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
	entries, err := List(ctx, s.Pool, f)
	if err != nil {
		return nil, err
	}
	out := &auditv1.ListEntriesResponse{}
	if len(entries) > size {
		entries = entries[:size]
		out.NextPageToken = pagination.KeysetToken(pagination.Keyset{Key: strconv.FormatInt(entries[size-1].Seq, 10)}, scope)
	}
	for _, e := range entries {
		c := ""
		if e.CaseNumber != "" {
			c = names.Case(e.CaseNumber)
		}
		out.Entries = append(out.Entries, &auditv1.Entry{
			Sequence: e.Seq, Time: timestamppb.New(e.At), Office: names.Office(e.Office), Role: e.Role, Account: account(e.Account), Action: e.Action,
			Case: c, RequestId: e.RequestID, Peer: e.Peer, Detail: e.Detail, Hash: hex.EncodeToString(e.Hash),
		})
	}
	return out, nil
}

// account is an entry's account as a resource name ("" for none).
func account(username string) string {
	if username == "" {
		return ""
	}
	return "accounts/" + username
}
