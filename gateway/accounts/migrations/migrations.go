// Package migrations holds the accounts schema's migrations.
package migrations

import (
	"embed"

	"github.com/tongban/tongban/services/platform/pgdb"
)

//go:embed *.sql
var files embed.FS

// Set is the accounts schema's migration set.
var Set = pgdb.Migrations{FS: files, Dir: "."}
