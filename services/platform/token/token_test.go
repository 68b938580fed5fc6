package token

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"
)

func key(t *testing.T, kid string) string {
	t.Helper()
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		t.Fatal(err)
	}
	return NewKey(kid, seed)
}

// TestSignVerify: a token verifies with its key's public half, through a
// rotation; an expired, tampered, foreign-key or unsigned token does not.
func TestSignVerify(t *testing.T) {
	old, next := key(t, "k1"), key(t, "k2")
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	signer, err := NewSigner(old+","+next, "k2", 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	oldSigner, err := NewSigner(old, "k1", 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := PublicKeys(old + "," + next)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	claims := Claims{Account: "wang", Office: "330421102", Role: "clerk"}
	tok, exp, err := signer.Sign(claims, now)
	if err != nil || !exp.Equal(now.Add(15*time.Minute)) || !Looks(tok) {
		t.Fatalf("sign: %q %v %v", tok, exp, err)
	}
	got, err := v.Verify(tok, now.Add(time.Minute))
	if err != nil || got.Account != "wang" || got.Office != "330421102" || got.Role != "clerk" {
		t.Fatalf("verify: %+v %v", got, err)
	}
	// A token of the previous key still verifies (rotation).
	prev, _, _ := oldSigner.Sign(claims, now)
	if _, err := v.Verify(prev, now); err != nil {
		t.Errorf("previous key: %v", err)
	}
	foreign, _ := func() (*Signer, error) { return NewSigner(key(t, "k2"), "k2", time.Minute) }()
	forged, _, _ := foreign.Sign(Claims{Account: "x", Office: "330421.xfj", Role: "admin"}, now)
	parts := strings.Split(tok, ".")
	tampered := parts[0] + "." + strings.TrimRight(parts[1], "=") + "x." + parts[2]
	for name, c := range map[string]struct {
		tok string
		at  time.Time
	}{
		"expired":      {tok, now.Add(16 * time.Minute)},
		"foreign key":  {forged, now},
		"tampered":     {tampered, now},
		"alg none":     {"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4Iiwib2ZmaWNlIjoiMzMwNDIxLnhmaiIsInJvbGUiOiJhZG1pbiIsImlzcyI6InRvbmdiYW4ifQ.", now},
		"not a token":  {"demo-bureau", now},
		"issued later": {tok, now.Add(-time.Hour)},
	} {
		if _, err := v.Verify(c.tok, c.at); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := NewSigner(old, "k9", time.Minute); err == nil {
		t.Error("a signer without its active key")
	}
	if _, err := NewVerifier("k1:short"); err == nil {
		t.Error("a malformed key")
	}
}
