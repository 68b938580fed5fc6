// Package textnorm is how every service reads a person's text before
// checking or storing it: Unicode NFC (one encoding for one character, so
// equal text compares equal), without white space, ideographic spaces or
// format characters (zero-width spaces, joiners, byte-order marks) at
// either end. A subject of "\u3000\u200b" is then empty, and refused as such.
package textnorm

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Clean is s in NFC, trimmed of white space and format characters.
func Clean(s string) string {
	return strings.TrimFunc(norm.NFC.String(s), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r)
	})
}
