package lifecycle

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/tongban/tongban/services/platform/directory"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		action Action
		from   State
		kind   directory.Kind
		holder bool
		want   State
		err    error
	}{
		{"township_refers_up", ReferUp, Registered, directory.Township, true, Registered, nil},
		{"bureau_cannot_refer_up", ReferUp, Registered, directory.Bureau, true, Registered, ErrKind},
		{"township_refers_only_what_it_holds", ReferUp, Registered, directory.Township, false, Registered, ErrNotHolder},
		{"no_refer_up_in_handling", ReferUp, InHandling, directory.Township, true, InHandling, ErrState},
		{"bureau_transfers", Transfer, Registered, directory.Bureau, true, InHandling, nil},
		{"department_transfers_on", Transfer, InHandling, directory.Department, true, InHandling, nil},
		{"township_cannot_transfer", Transfer, Registered, directory.Township, true, Registered, ErrKind},
		{"no_transfer_after_answer", Transfer, Answered, directory.Bureau, true, Answered, ErrState},
		{"department_answers", Answer, InHandling, directory.Department, true, Answered, nil},
		{"township_answers_own", Answer, Registered, directory.Township, true, Answered, nil},
		{"no_second_answer", Answer, Answered, directory.Department, true, Answered, ErrState},
		{"non_holder_cannot_answer", Answer, InHandling, directory.Department, false, InHandling, ErrNotHolder},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Check(tc.action, tc.from, tc.kind, tc.holder)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && got != tc.want {
				t.Errorf("state = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestDocsMatchTable keeps docs/lifecycle.md in step with Rules: every
// transition appears there as "FROM --ACTION--> TO".
func TestDocsMatchTable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../../../docs/lifecycle.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	short := func(s string) string {
		s = strings.TrimPrefix(s, "CASE_STATE_")
		return strings.TrimPrefix(s, "ACTION_")
	}
	for action, r := range Rules {
		for _, from := range r.From {
			edge := short(from.String()) + " --" + short(action.String()) + "--> " + short(r.To.String())
			if !strings.Contains(doc, edge) {
				t.Errorf("docs/lifecycle.md lacks %q", edge)
			}
		}
	}
}
