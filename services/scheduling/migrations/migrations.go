// Package migrations holds scheduling's schema migrations.
package migrations

import (
	"embed"

	"github.com/tongban/tongban/services/platform/pgdb"
)

//go:embed *.sql
var files embed.FS

// Set is scheduling's migration set.
var Set = pgdb.Migrations{FS: files, Dir: "."}
