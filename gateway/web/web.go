// Package web holds the pages the gateway serves beside the API: the
// clerk workbench (a React build from web/workbench, committed under
// workbench/) and the county dashboard, with its vendored chart library.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed dashboard workbench
var files embed.FS

// Dashboard serves the dashboard's files (mount it under /dashboard/).
func Dashboard() http.Handler { return serve("dashboard") }

// Workbench serves the workbench's build (mount it under /workbench/).
func Workbench() http.Handler { return serve("workbench") }

// serve serves one tree of files. The pages talk to the API on the same
// origin only, and the headers say so: nothing is loaded from, or framed
// by, another site. (The workbench's component library writes its styles
// at run time, hence 'unsafe-inline' for styles, never for scripts.)
func serve(dir string) http.Handler {
	sub, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	fileServer := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		fileServer.ServeHTTP(w, r)
	})
}
