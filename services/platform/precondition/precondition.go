// Package precondition reads a write's expected version (AIP-154): the
// request's etag field, or the If-Match header (RFC 9110 §13.1.1) the
// gateway forwards as metadata, so HTTP clients may use either. When both
// are sent and disagree the request is refused rather than one silently
// winning.
package precondition

import (
	"context"
	"strings"

	"google.golang.org/grpc/metadata"
)

// Header is the metadata key of the If-Match header.
const Header = "if-match"

// Violations is where Etag reports a bad or conflicting precondition.
type Violations interface {
	Add(field, description string)
}

// Etag returns the etag the write must match ("" for none), as the API
// writes etags (quoted, `"3"`): body, else the If-Match header's one entity
// tag ("*", any version, is none). Either may come with or without quotes.
func Etag(ctx context.Context, body string, v Violations) string {
	body = bare(body)
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get(Header)
	if len(values) == 0 {
		return quoted(body)
	}
	raw := strings.TrimSpace(strings.Join(values, ","))
	header := ""
	switch {
	case raw == "*":
	case strings.Contains(raw, ","):
		v.Add("etag", "the If-Match header must name one etag, got "+raw)
		return quoted(body)
	case strings.HasPrefix(raw, "W/"):
		v.Add("etag", "the If-Match header must be a strong etag (RFC 9110), got "+raw)
		return quoted(body)
	default:
		header = bare(raw)
	}
	if body != "" && header != "" && body != header {
		v.Add("etag", `is "`+body+`" but the If-Match header says "`+header+`": send one, or the same in both`)
	}
	if body != "" {
		return quoted(body)
	}
	return quoted(header)
}

func bare(tag string) string { return strings.TrimSuffix(strings.TrimPrefix(tag, `"`), `"`) }

func quoted(tag string) string {
	if tag == "" {
		return ""
	}
	return `"` + tag + `"`
}
