// Package pagination reads page sizes and opaque page tokens the same way in
// every List method (AIP-158): 0 means the default, above the maximum is
// capped, negative is invalid; a token is bound to the request it came from
// and authenticated (HMAC-SHA256 with the installation's key), so a token
// changed by one character is refused rather than read as another page.
package pagination

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"time"
)

// macSize is the tag's length: 128 bits, as NIST SP 800-107 allows for
// truncated HMAC tags.
const macSize = 16

var key atomic.Pointer[[]byte]

func init() {
	// Until SetKey: a key of this process alone, so tokens are still
	// authenticated (tests, tools); the services set the installation's.
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	key.Store(&k)
}

// SetKey sets the key every replica of every service shares, so a token
// from one replica reads at another.
func SetKey(k []byte) {
	k = append([]byte(nil), k...)
	key.Store(&k)
}

// seal appends the tag of payload in scope.
func seal(payload []byte, scope string) string {
	return base64.RawURLEncoding.EncodeToString(append(payload, tag(payload, scope)...))
}

// open returns the payload of a token of scope, at least minLen long.
func open(token, scope string, minLen int) ([]byte, bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(b) < minLen+macSize {
		return nil, false
	}
	payload, got := b[:len(b)-macSize], b[len(b)-macSize:]
	return payload, hmac.Equal(got, tag(payload, scope))
}

func tag(payload []byte, scope string) []byte {
	m := hmac.New(sha256.New, *key.Load())
	m.Write([]byte(scope))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)[:macSize]
}

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
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(offset))
	return seal(b, "offset\x00"+scope)
}

// Offset decodes a token made by [Token] for the same scope. The empty token
// is offset 0.
func Offset(token, scope string) (int64, error) {
	if token == "" {
		return 0, nil
	}
	b, ok := open(token, "offset\x00"+scope, 8)
	if !ok || len(b) != 8 {
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
	b := make([]byte, 8, 8+len(k.Key)+macSize)
	binary.BigEndian.PutUint64(b, uint64(k.Time.UnixMicro()))
	return seal(append(b, k.Key...), "keyset\x00"+scope)
}

// ParseKeyset decodes a token made by [KeysetToken] for the same scope;
// ok is false for the empty token (the first page).
func ParseKeyset(token, scope string) (k Keyset, ok bool, err error) {
	if token == "" {
		return Keyset{}, false, nil
	}
	b, ok := open(token, "keyset\x00"+scope, 8)
	if !ok {
		return Keyset{}, false, ErrBadToken
	}
	return Keyset{Time: time.UnixMicro(int64(binary.BigEndian.Uint64(b))).UTC(), Key: string(b[8:])}, true, nil
}
