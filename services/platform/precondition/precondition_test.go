package precondition

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
)

type violations []string

func (v *violations) Add(field, description string) { *v = append(*v, field+": "+description) }

func TestEtag(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		header     []string
		want       string
		violation  string // part of the message, "" for none
	}{
		{"neither", "", nil, "", ""},
		{"the body alone", `"3.1"`, nil, `"3.1"`, ""},
		{"the body alone, bare", "3", nil, `"3"`, ""},
		{"the header alone, quoted", "", []string{`"3"`}, `"3"`, ""},
		{"the header alone, bare", "", []string{"3"}, `"3"`, ""},
		{"both the same", `"3"`, []string{`"3"`}, `"3"`, ""},
		{"both the same, one bare", "3", []string{`"3"`}, `"3"`, ""},
		{"both different", "3", []string{`"4"`}, `"3"`, `is "3" but the If-Match header says "4"`},
		{"any version", "", []string{"*"}, "", ""},
		{"any version with a body etag", "3", []string{"*"}, `"3"`, ""},
		{"two etags", "", []string{`"3", "4"`}, "", "must name one etag"},
		{"a weak etag", "", []string{`W/"3"`}, "", "strong etag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.header != nil {
				ctx = metadata.NewIncomingContext(ctx, metadata.Pairs(Header, tc.header[0]))
			}
			var v violations
			got := Etag(ctx, tc.body, &v)
			if got != tc.want {
				t.Errorf("Etag = %q, want %q", got, tc.want)
			}
			if tc.violation == "" && len(v) > 0 || tc.violation != "" && (len(v) != 1 || !strings.Contains(v[0], tc.violation) || !strings.HasPrefix(v[0], "etag: ")) {
				t.Errorf("violations %q, want one on etag saying %q", v, tc.violation)
			}
		})
	}
}
