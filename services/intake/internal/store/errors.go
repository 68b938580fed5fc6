package store

import (
	"errors"

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
