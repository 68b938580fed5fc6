// The house rules of the tree, checked: each is one sentence of
// docs/architecture.md ("Where things live", "Errors").
package services_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Imports    []string
}

func packages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

const module = "github.com/tongban/tongban/"

func TestLayout(t *testing.T) {
	t.Parallel()
	pkgs := packages(t)
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages under services/: not the tree", len(pkgs))
	}
	rules := []struct {
		name    string
		applies func(path string) bool
		refuses func(imp string) bool
	}{
		{"nothing under services/ imports tools/", func(string) bool { return true },
			func(imp string) bool { return strings.HasPrefix(imp, module+"tools/") }},
		{"stores, the county's rules, the lifecycle and fault import no gRPC package and build no status",
			func(p string) bool {
				return strings.HasSuffix(p, "/internal/store") || strings.Contains(p, "/services/county/") ||
					strings.HasSuffix(p, "/services/assignment/lifecycle") || strings.HasSuffix(p, "/platform/fault")
			},
			func(imp string) bool {
				return strings.HasPrefix(imp, "google.golang.org/grpc") || imp == module+"services/platform/rpcerr"
			}},
		{"infrastructure does not import the services' own packages",
			func(p string) bool { return strings.Contains(p, "/services/platform/") },
			func(imp string) bool {
				for _, svc := range []string{"intake", "assignment", "scheduling", "reporting"} {
					if strings.HasPrefix(imp, module+"services/"+svc+"/") {
						return true
					}
				}
				return false
			}},
	}
	for _, r := range rules {
		applied := 0
		for _, p := range pkgs {
			if !r.applies(p.ImportPath) {
				continue
			}
			applied++
			for _, imp := range p.Imports {
				if r.refuses(imp) {
					t.Errorf("%s: %s imports %s", r.name, strings.TrimPrefix(p.ImportPath, module), imp)
				}
			}
		}
		if applied < 3 {
			t.Errorf("%s: the rule found %d packages to check", r.name, applied)
		}
	}
}
