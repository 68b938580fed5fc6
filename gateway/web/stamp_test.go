package web

import "testing"

// TestWorkbenchBuildCurrent fails when the committed build of the workbench
// is not the build of its sources: run `make web` and commit the result.
func TestWorkbenchBuildCurrent(t *testing.T) {
	t.Parallel()
	want, err := SourceHash("../../web/workbench")
	if err != nil {
		t.Fatal(err)
	}
	if got := BuiltFrom(); got != want {
		t.Errorf("gateway/web/workbench was built from sources %q, the sources are %q: run `make web` and commit gateway/web/workbench", got, want)
	}
}
