package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Attachment is a file's metadata; its bytes are in the blob store.
type Attachment struct {
	CaseNumber       string
	Ordinal          int
	Filename         string
	MediaType        string
	Size             int64
	SHA256           string
	ContainsIdentity bool
	CreatedBy        string
	CreateTime       time.Time
}

// AddAttachment records a file for a case (locked by the caller's tx) with
// the next ordinal, and sets a.Ordinal and a.CreateTime.
func (s *Store) AddAttachment(ctx context.Context, tx pgx.Tx, a *Attachment) error {
	const q = `INSERT INTO attachments (case_number, ordinal, filename, media_type, size_bytes, sha256, contains_identity, created_by)
		SELECT $1, COALESCE(MAX(ordinal), 0) + 1, $2, $3, $4, $5, $6, $7 FROM attachments WHERE case_number = $1
		RETURNING ordinal, create_time`
	err := tx.QueryRow(ctx, q, a.CaseNumber, a.Filename, a.MediaType, a.Size, a.SHA256, a.ContainsIdentity, a.CreatedBy).
		Scan(&a.Ordinal, &a.CreateTime)
	if err != nil {
		return fmt.Errorf("store.AddAttachment: %w", err)
	}
	return nil
}

const attachmentColumns = `case_number, ordinal, filename, media_type, size_bytes, sha256, contains_identity, created_by, create_time`

func scanAttachment(row pgx.Row) (*Attachment, error) {
	var a Attachment
	err := row.Scan(&a.CaseNumber, &a.Ordinal, &a.Filename, &a.MediaType, &a.Size, &a.SHA256, &a.ContainsIdentity, &a.CreatedBy, &a.CreateTime)
	return &a, err
}

// Attachments lists a case's files, oldest first.
func (s *Store) Attachments(ctx context.Context, number string) ([]*Attachment, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+attachmentColumns+` FROM attachments WHERE case_number = $1 ORDER BY ordinal`, number)
	if err != nil {
		return nil, fmt.Errorf("store.Attachments: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Attachment, error) { return scanAttachment(r) })
	if err != nil {
		return nil, fmt.Errorf("store.Attachments: %w", err)
	}
	return out, nil
}

// ErrAttachmentNotFound says a case has no such attachment.
var ErrAttachmentNotFound = errors.New("attachment not found")

// AttachmentByOrdinal returns one file of a case.
func (s *Store) AttachmentByOrdinal(ctx context.Context, number string, ordinal int) (*Attachment, error) {
	a, err := scanAttachment(s.Pool.QueryRow(ctx, `SELECT `+attachmentColumns+` FROM attachments WHERE case_number = $1 AND ordinal = $2`, number, ordinal))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrAttachmentNotFound
	} else if err != nil {
		return nil, fmt.Errorf("store.AttachmentByOrdinal: %w", err)
	}
	return a, nil
}
