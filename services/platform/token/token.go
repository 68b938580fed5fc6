// Package token issues and verifies Tongban's access tokens: JWTs signed
// with Ed25519 (EdDSA), the signing key named in the header (kid) so keys
// can be rotated: a new key signs, the old one keeps verifying until the
// tokens it signed have expired. The gateway signs (it checks passwords
// and API keys); every service verifies with the public keys alone, so no
// service trusts a caller header.
package token

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer is the iss of every token.
const Issuer = "tongban"

// Claims are what a token says of its holder.
type Claims struct {
	// Account is the account's name (sub).
	Account string `json:"sub"`
	// Office is the office id the account acts for.
	Office string `json:"office"`
	// Role is the account's role in that office.
	Role string `json:"role"`
	// APIKey is the id of the API key the token was swapped for (empty for
	// a signed-in person), so that revoking the key ends its tokens too.
	APIKey string `json:"key,omitempty"`
	jwt.RegisteredClaims
}

// Signer signs tokens with the active key.
type Signer struct {
	kid string
	key ed25519.PrivateKey
	ttl time.Duration
}

// NewSigner parses keys ("kid:base64-seed,…", 32-byte Ed25519 seeds) and
// signs with the one named active; tokens live ttl.
func NewSigner(keys, active string, ttl time.Duration) (*Signer, error) {
	seeds, err := parse(keys, ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	seed, ok := seeds[active]
	if !ok {
		return nil, fmt.Errorf("token: no signing key %q", active)
	}
	return &Signer{kid: active, key: ed25519.NewKeyFromSeed(seed), ttl: ttl}, nil
}

// Sign issues a token for c valid from now for the signer's lifetime; it
// returns the token and its expiry.
func (s *Signer) Sign(c Claims, now time.Time) (string, time.Time, error) {
	exp := now.Add(s.ttl)
	c.Issuer, c.Subject = Issuer, c.Account
	c.IssuedAt, c.ExpiresAt = jwt.NewNumericDate(now), jwt.NewNumericDate(exp)
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	t.Header["kid"] = s.kid
	signed, err := t.SignedString(s.key)
	return signed, exp, err
}

// TTL is how long the tokens the signer issues live.
func (s *Signer) TTL() time.Duration { return s.ttl }

// Verifier checks tokens against the public keys by kid.
type Verifier struct {
	keys map[string]ed25519.PublicKey
}

// NewVerifier parses public keys ("kid:base64-32-bytes,…").
func NewVerifier(keys string) (*Verifier, error) {
	raw, err := parse(keys, ed25519.PublicKeySize)
	if err != nil {
		return nil, err
	}
	v := &Verifier{keys: map[string]ed25519.PublicKey{}}
	for kid, b := range raw {
		v.keys[kid] = ed25519.PublicKey(b)
	}
	return v, nil
}

// Errors of Verify.
var ErrInvalid = errors.New("token: invalid")

// Verify checks a token's signature (EdDSA only, by its kid), issuer and
// expiry, and returns its claims.
func (v *Verifier) Verify(s string, now time.Time) (Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(s, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k, ok := v.keys[kid]
		if !ok {
			return nil, fmt.Errorf("unknown key %q", kid)
		}
		return k, nil
	}, jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}), jwt.WithIssuer(Issuer), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if c.Account == "" || c.Office == "" || c.Role == "" {
		return Claims{}, fmt.Errorf("%w: incomplete claims", ErrInvalid)
	}
	return c, nil
}

// Looks says whether s has the shape of a JWT (three dot-separated parts),
// as opposed to a static token or an API key.
func Looks(s string) bool { return strings.Count(s, ".") == 2 }

// PublicKeys renders the public keys of signing keys ("kid:base64-seed,…")
// as "kid:base64-public,…", for the services' setting.
func PublicKeys(keys string) (string, error) {
	seeds, err := parse(keys, ed25519.SeedSize)
	if err != nil {
		return "", err
	}
	var out []string
	for kid, seed := range seeds {
		pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
		out = append(out, kid+":"+base64.StdEncoding.EncodeToString(pub))
	}
	return strings.Join(out, ","), nil
}

func parse(keys string, size int) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, part := range strings.Split(keys, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		kid, b64, ok := strings.Cut(part, ":")
		b, err := base64.StdEncoding.DecodeString(b64)
		if !ok || kid == "" || err != nil || len(b) != size {
			return nil, fmt.Errorf("token: keys must be \"kid:base64 of %d bytes\", comma-separated", size)
		}
		out[kid] = b
	}
	if len(out) == 0 {
		return nil, errors.New("token: no keys")
	}
	return out, nil
}

// NewKey makes a signing key "kid:base64-seed".
func NewKey(kid string, seed []byte) string {
	return kid + ":" + base64.StdEncoding.EncodeToString(seed)
}
