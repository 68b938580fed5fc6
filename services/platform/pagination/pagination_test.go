package pagination

import (
	"testing"
	"time"
)

func TestSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   int32
		want int
		err  bool
	}{{0, 50, false}, {10, 10, false}, {501, 500, false}, {-1, 0, true}}
	for _, tc := range tests {
		got, err := Size(tc.in, 50, 500)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("Size(%d) = %d, %v", tc.in, got, err)
		}
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	tok := Token(150, "ListCases/330421102")
	if off, err := Offset(tok, "ListCases/330421102"); err != nil || off != 150 {
		t.Fatalf("Offset = %d, %v", off, err)
	}
	if _, err := Offset(tok, "ListCases/330421103"); err == nil {
		t.Fatal("a token of another list was accepted")
	}
	if _, err := Offset("garbage!", "x"); err == nil {
		t.Fatal("garbage accepted")
	}
}

func FuzzOffset(f *testing.F) {
	f.Add(Token(3, "s"), "s")
	f.Add("", "s")
	f.Fuzz(func(t *testing.T, tok, scope string) {
		off, err := Offset(tok, scope)
		if err == nil && off < 0 {
			t.Fatalf("negative offset %d from %q", off, tok)
		}
	})
}

func TestKeyset(t *testing.T) {
	t.Parallel()
	k := Keyset{Time: time.Date(2026, 11, 23, 9, 30, 0, 123456000, time.UTC), Key: "330421-2026-000123"}
	tok := KeysetToken(k, "scope")
	got, ok, err := ParseKeyset(tok, "scope")
	if err != nil || !ok || !got.Time.Equal(k.Time) || got.Key != k.Key {
		t.Fatalf("round trip: %+v %v %v", got, ok, err)
	}
	if _, _, err := ParseKeyset(tok, "other"); err == nil {
		t.Fatal("a token of another list was accepted")
	}
	if _, ok, err := ParseKeyset("", "scope"); ok || err != nil {
		t.Fatal("empty token")
	}
}

func FuzzParseKeyset(f *testing.F) {
	f.Add(KeysetToken(Keyset{Time: time.Unix(0, 0), Key: "k"}, "s"), "s")
	f.Fuzz(func(t *testing.T, tok, scope string) {
		k, ok, err := ParseKeyset(tok, scope)
		if err != nil || !ok {
			return
		}
		if again := KeysetToken(k, scope); again != tok {
			// Tokens are canonical base64 of their bytes.
			if k2, _, err := ParseKeyset(again, scope); err != nil || k2 != k {
				t.Fatalf("re-encoding %q changed it", tok)
			}
		}
	})
}

// TestTamperedTokens: any one character changed, and a token made under
// another installation's key, are refused, never read as another page.
func TestTamperedTokens(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for name, tc := range map[string]struct {
		tok   string
		parse func(string) error
	}{
		"offset": {Token(150, "ListCases/330421102"), func(s string) error { _, err := Offset(s, "ListCases/330421102"); return err }},
		"keyset": {KeysetToken(Keyset{Time: time.Unix(1_790_000_000, 0), Key: "330421-2026-000123"}, "ListCases"),
			func(s string) error { _, _, err := ParseKeyset(s, "ListCases"); return err }},
	} {
		if err := tc.parse(tc.tok); err != nil {
			t.Fatalf("%s: the token itself: %v", name, err)
		}
		for i := range len(tc.tok) {
			for _, c := range alphabet {
				if byte(c) == tc.tok[i] {
					continue
				}
				changed := tc.tok[:i] + string(c) + tc.tok[i+1:]
				if err := tc.parse(changed); err == nil {
					t.Fatalf("%s: %q (character %d changed) was accepted", name, changed, i)
				}
			}
		}
	}
	tok := Token(150, "s")
	old := *key.Load()
	SetKey([]byte("another installation's key, 32 bytes"))
	defer SetKey(old)
	if _, err := Offset(tok, "s"); err == nil {
		t.Fatal("a token of another installation's key was accepted")
	}
}
