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

// duplicateExternal is ErrDuplicateExternal for the database's refusal of a
// second case with the same (source system, external id), wherever the
// refusal is reported.
func duplicateExternal(err error) error {
	if isUniqueViolation(err, "cases_external") {
		return ErrDuplicateExternal
	}
	return err
}
