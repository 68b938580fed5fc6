// Package download names the file a gRPC method's HttpBody becomes when the
// gateway serves it: a Content-Disposition header (RFC 6266) that a browser
// saves rather than shows, with the Chinese name kept (RFC 8187, the
// successor of RFC 5987) and an ASCII fallback for old clients. Written
// here because mime.FormatMediaType gives no fallback and url.PathEscape
// leaves characters RFC 8187 does not allow unescaped.
package download

import (
	"context"
	"path"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Header is the metadata key the gateway turns into Content-Disposition.
const Header = "content-disposition"

// SetFilename asks the gateway to serve the response as an attachment
// named filename.
func SetFilename(ctx context.Context, filename string) {
	_ = grpc.SetHeader(ctx, metadata.Pairs(Header, Disposition(filename))) // fails only outside a call
}

// Disposition is the header's value for filename.
func Disposition(filename string) string {
	return `attachment; filename="` + fallback(filename) + `"; filename*=UTF-8''` + extValue(filename)
}

// fallback keeps the printable ASCII of the name (without quotes and
// backslashes), and the extension, so a client that reads only filename=
// still saves "_____.pdf" as a PDF.
func fallback(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == '"' || r == '\\' || r < 0x20 || r > 0x7e:
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	s := b.String()
	if strings.Trim(strings.TrimSuffix(s, path.Ext(s)), "_ ") == "" {
		return "file" + path.Ext(s)
	}
	return s
}

// extValue percent-encodes every byte but RFC 8187's attr-char.
func extValue(name string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
