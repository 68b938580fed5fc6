package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/intake/internal/filetype"
	"github.com/tongban/tongban/services/intake/internal/store"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/download"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/idempotency"
	"github.com/tongban/tongban/services/platform/pgdb"
)

// MaxAttachment is the largest file accepted.
const MaxAttachment = 10 << 20

// CreateAttachment stores a file for a case.
func (s *Server) CreateAttachment(ctx context.Context, req *intakev1.CreateAttachmentRequest) (*intakev1.CreateAttachmentResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	num, ok := names.CaseNumber(req.GetParent())
	if !ok {
		v.Add("parent", names.CaseNumberHint)
	}
	a := req.GetAttachment()
	switch n := utf8.RuneCountInString(a.GetFilename()); {
	case n == 0:
		v.Add("attachment.filename", "is required")
	case n > 200 || strings.ContainsAny(a.GetFilename(), "/\\\x00"):
		v.Add("attachment.filename", "must be at most 200 characters, without / or \\")
	}
	if mt, _, err := mime.ParseMediaType(a.GetMediaType()); a.GetMediaType() != "" && (err != nil || !strings.Contains(mt, "/")) {
		v.Add("attachment.media_type", `must be a media type such as "application/pdf" or "image/jpeg", or left out`)
	}
	// What is stored and served is what the bytes are, never what the
	// uploader declared.
	sniffed := filetype.Sniff(req.GetContent())
	switch size := len(req.GetContent()); {
	case size == 0:
		v.Add("content", "is required (the file's bytes)")
	case size > MaxAttachment:
		v.Add("content", "must be at most "+strconv.Itoa(MaxAttachment>>20)+" MiB")
	case !sniffed.Allowed:
		v.Add("content", "is "+sniffed.Name+", which may not be attached: "+filetype.Accepted)
	}
	rid := idempotency.Checked(ctx, req.GetRequestId(), &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	// The bytes go first: by content, so a failed transaction leaves at most
	// an unreferenced copy, and a retry stores nothing new.
	ref, err := s.Blobs.Put(ctx, bytes.NewReader(req.GetContent()), MaxAttachment)
	if err != nil {
		return nil, err
	}
	out := &intakev1.CreateAttachmentResponse{}
	key := idempotency.Key{Scope: caller.Office.ID, Method: "CreateAttachment", RequestID: rid}
	err = pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		_, err := idempotency.Do(ctx, tx, key, req, out, func() error {
			c, err := s.lockVisible(ctx, tx, caller, num, "parent", req.GetParent(), false)
			if err != nil {
				return err
			}
			if caller.Office.ID != c.RegisteredBy && caller.Office.ID != c.Holder {
				return fault.New(fault.PermissionDenied, "NOT_REGISTERING_OR_HOLDING_OFFICE",
					"only the registering office or the office holding the case may attach files")
			}
			row := &store.Attachment{
				CaseNumber: num, Filename: a.GetFilename(), MediaType: sniffed.MediaType, Size: ref.Size,
				SHA256: ref.SHA256, ContainsIdentity: a.GetContainsIdentity(), CreatedBy: caller.Office.ID,
			}
			if err := s.Store.AddAttachment(ctx, tx, row); err != nil {
				return err
			}
			if err := audit.Append(ctx, tx, audit.FromCall(ctx, audit.Attach, num, rid,
				fmt.Sprintf("ordinal=%d size=%d contains_identity=%t", row.Ordinal, row.Size, row.ContainsIdentity))); err != nil {
				return err
			}
			out.Attachment = attachmentProto(row)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListAttachments lists a case's files.
func (s *Server) ListAttachments(ctx context.Context, req *intakev1.ListAttachmentsRequest) (*intakev1.ListAttachmentsResponse, error) {
	_, num, err := s.visibleCase(ctx, req.GetParent(), "parent")
	if err != nil {
		return nil, err
	}
	rows, err := s.Store.Attachments(ctx, num)
	if err != nil {
		return nil, err
	}
	resp := &intakev1.ListAttachmentsResponse{}
	for _, a := range rows {
		resp.Attachments = append(resp.Attachments, attachmentProto(a))
	}
	return resp, nil
}

// GetAttachmentContent returns a file's bytes to those who may have them.
func (s *Server) GetAttachmentContent(ctx context.Context, req *intakev1.GetAttachmentContentRequest) (*httpbody.HttpBody, error) {
	parent, ordinalText, _ := strings.Cut(strings.TrimPrefix(req.GetName(), "cases/"), "/attachments/")
	ordinal, convErr := strconv.Atoi(ordinalText)
	if convErr != nil || ordinal < 1 {
		var v fault.Violations
		v.Add("name", `must be "cases/{case_number}/attachments/{n}"`)
		return nil, v.Err()
	}
	caller, num, err := s.visibleCase(ctx, "cases/"+parent, "name")
	if err != nil {
		return nil, err
	}
	c, err := s.Store.Get(ctx, num)
	if err != nil {
		return nil, err
	}
	a, err := s.Store.AttachmentByOrdinal(ctx, num, ordinal)
	if errors.Is(err, store.ErrAttachmentNotFound) {
		return nil, fault.New(fault.NotFound, "ATTACHMENT_NOT_FOUND", "attachment not found", "name", req.GetName())
	} else if err != nil {
		return nil, err
	}
	if !policy.SeesIdentity(caller, c.RegisteredBy) &&
		(a.ContainsIdentity || c.Class == int16(intakev1.CaseClass_CASE_CLASS_ACCUSATION)) {
		return nil, fault.New(fault.PermissionDenied, "IDENTITY_PROTECTED",
			"this file may show the petitioner's identity: only the registering office may download it")
	}
	r, err := s.Blobs.Open(ctx, a.SHA256)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, MaxAttachment+1))
	if err != nil {
		return nil, err
	}
	err = pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		return audit.Append(ctx, tx, audit.FromCall(ctx, audit.ReadFile, num, "", fmt.Sprintf("ordinal=%d contains_identity=%t", ordinal, a.ContainsIdentity)))
	})
	if err != nil {
		return nil, err
	}
	download.SetFilename(ctx, a.Filename)
	return &httpbody.HttpBody{ContentType: a.MediaType, Data: data}, nil
}

// visibleCase resolves a case name the caller may see.
func (s *Server) visibleCase(ctx context.Context, name, field string) (auth.Caller, string, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return caller, "", err
	}
	num, ok := names.CaseNumber(name)
	if !ok {
		var v fault.Violations
		v.Add(field, names.CaseNumberHint)
		return caller, "", v.Err()
	}
	involved, err := s.Store.Involved(ctx, []string{num})
	if err != nil {
		return caller, "", err
	}
	root, exists := involved[num]
	if !exists || !policy.CanSeeCase(caller, caller.County, root.Involved) {
		return caller, "", fault.Named(store.ErrNotFound, field, name)
	}
	return caller, num, nil
}

func attachmentProto(a *store.Attachment) *intakev1.Attachment {
	return &intakev1.Attachment{
		Name:             names.Case(a.CaseNumber) + "/attachments/" + strconv.Itoa(a.Ordinal),
		Filename:         a.Filename,
		MediaType:        a.MediaType,
		SizeBytes:        a.Size,
		Sha256:           a.SHA256,
		ContainsIdentity: a.ContainsIdentity,
		CreateTime:       timestamppb.New(a.CreateTime),
		CreatedBy:        names.Office(a.CreatedBy),
	}
}
