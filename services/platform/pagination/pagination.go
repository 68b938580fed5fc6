// Package pagination reads page sizes and opaque page tokens the same way in
// every List method (AIP-158): 0 means the default, above the maximum is
// capped, negative is invalid; a token is bound to the request it came from.
package pagination

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"time"
)

// ErrBadToken says a page token is malformed or belongs to another request.
var ErrBadToken = errors.New("invalid page token")

// ErrNegativeSize says page_size was negative.
var ErrNegativeSize = errors.New("page_size must not be negative")

// Size returns the page size to use.
func Size(requested, def, max int32) (int, error) {
	switch {
	case requested < 0:
		return 0, ErrNegativeSize
	case requested == 0:
		return int(def), nil
	case requested > max:
		return int(max), nil
	}
	return int(requested), nil
}

// Token encodes the offset of the next page, checksummed with scope (the
// request parameters other than the page) so that a token cannot be replayed
// against a different list.
func Token(offset int64, scope string) string {
	b := make([]byte, 12)
	binary.BigEndian.PutUint64(b, uint64(offset))
	binary.BigEndian.PutUint32(b[8:], crc32.ChecksumIEEE([]byte(scope)))
	return base64.RawURLEncoding.EncodeToString(b)
}

// Offset decodes a token made by [Token] for the same scope. The empty token
// is offset 0.
func Offset(token, scope string) (int64, error) {
	if token == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != 12 {
		return 0, ErrBadToken
	}
	if binary.BigEndian.Uint32(b[8:]) != crc32.ChecksumIEEE([]byte(scope)) {
		return 0, ErrBadToken
	}
	off := int64(binary.BigEndian.Uint64(b))
	if off < 0 {
		return 0, ErrBadToken
	}
	return off, nil
}

// Page is a validated page request.
type Page struct {
	Size   int
	Offset int64
	scope  string
}

// Violations is what Read reports bad fields into.
type Violations interface {
	Add(field, description string)
}

// Read validates page_size and page_token (adding violations to v) and
// returns the page. Query Size+1 rows and pass them to [Trim].
func Read(v Violations, size int32, token, scope string) Page {
	p := Page{scope: scope}
	var err error
	if p.Size, err = Size(size, 50, 500); err != nil {
		v.Add("page_size", err.Error())
	}
	if p.Offset, err = Offset(token, scope); err != nil {
		v.Add("page_token", "is not a token from a previous call of this list")
	}
	return p
}

// Trim cuts rows (queried with limit Size+1) to the page and returns the
// next page's token, empty on the last page.
func Trim[T any](p Page, rows []T) ([]T, string) {
	if len(rows) <= p.Size {
		return rows, ""
	}
	return rows[:p.Size], Token(p.Offset+int64(p.Size), p.scope)
}

// Keyset is the position after the last row of a page in a list ordered by
// (time, key): the next page starts strictly after it.
type Keyset struct {
	Time time.Time
	Key  string
}

// KeysetToken encodes k, checksummed with scope (the list's filters and
// order), as an opaque page token.
func KeysetToken(k Keyset, scope string) string {
	b := make([]byte, 12, 12+len(k.Key))
	binary.BigEndian.PutUint64(b, uint64(k.Time.UnixMicro()))
	binary.BigEndian.PutUint32(b[8:], crc32.ChecksumIEEE([]byte(scope)))
	return base64.RawURLEncoding.EncodeToString(append(b, k.Key...))
}

// ParseKeyset decodes a token made by [KeysetToken] for the same scope;
// ok is false for the empty token (the first page).
func ParseKeyset(token, scope string) (k Keyset, ok bool, err error) {
	if token == "" {
		return Keyset{}, false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) < 12 || binary.BigEndian.Uint32(b[8:]) != crc32.ChecksumIEEE([]byte(scope)) {
		return Keyset{}, false, ErrBadToken
	}
	return Keyset{Time: time.UnixMicro(int64(binary.BigEndian.Uint64(b))).UTC(), Key: string(b[12:])}, true, nil
}
