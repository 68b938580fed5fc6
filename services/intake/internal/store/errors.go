package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

func isForeignKey(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}

func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == constraint
}

// IsDuplicateExternal reports whether err says another case has the same
// (source system, external id): ErrDuplicateExternal, or the database's
// refusal as a pipelined insert reports it at the next round trip.
func IsDuplicateExternal(err error) bool {
	return errors.Is(err, ErrDuplicateExternal) || isUniqueViolation(err, "cases_external")
}

// newQueryCode draws a receipt's query code: eight characters, 0-9 and A-F.
func newQueryCode() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}
