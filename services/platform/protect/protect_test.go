package protect

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sync"
	"testing"
)

func keys(t *testing.T, sealing, current string) *Keys {
	t.Helper()
	k, err := Parse(sealing, current, "aGFzaGtleWhhc2hrZXloYXNoa2V5aGFzaGtleWhhc2hrZXk=")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const (
	k1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	k2 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
)

func TestSealOpenRotate(t *testing.T) {
	t.Parallel()
	old := keys(t, "k1:"+k1, "k1")
	sealed := old.Seal("330421199001011248", "330421-2026-000001/id_number")
	if bytes.Contains(sealed, []byte("330421199001011248")) {
		t.Fatal("sealed value contains the plaintext")
	}
	if again := old.Seal("330421199001011248", "330421-2026-000001/id_number"); bytes.Equal(again, sealed) {
		t.Fatal("two seals of one value are equal (nonce reuse)")
	}
	// After rotation, old rows still open with k1 while new ones use k2.
	rotated := keys(t, "k1:"+k1+",k2:"+k2, "k2")
	got, err := rotated.Open(sealed, "k1", "330421-2026-000001/id_number")
	if err != nil || got != "330421199001011248" {
		t.Fatalf("open after rotation: %q, %v", got, err)
	}
	if rotated.CurrentID() != "k2" {
		t.Fatalf("current = %s", rotated.CurrentID())
	}
	// Bound to its row and field.
	if _, err := rotated.Open(sealed, "k1", "330421-2026-000002/id_number"); err == nil {
		t.Fatal("opened under another case's context")
	}
	if _, err := old.Open(sealed, "k2", "330421-2026-000001/id_number"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
	if v, err := old.Open(nil, "k1", "x"); err != nil || v != "" {
		t.Fatalf("empty: %q, %v", v, err)
	}
}

func TestHash(t *testing.T) {
	t.Parallel()
	a := keys(t, "k1:"+k1, "k1")
	b := keys(t, "k2:"+k2, "k2") // same hash key: lookups survive sealing-key rotation
	if !bytes.Equal(a.Hash("phone", "13812345678"), b.Hash("phone", "13812345678")) {
		t.Fatal("hash depends on the sealing key")
	}
	if bytes.Equal(a.Hash("phone", "13812345678"), a.Hash("id_number", "13812345678")) {
		t.Fatal("hash ignores the kind")
	}
	if a.Hash("phone", "") != nil {
		t.Fatal("empty value hashed")
	}
	// HMAC-SHA-256 of kind, a zero byte and the value, whichever pooled
	// HMAC computes it, from any goroutine.
	key, _ := base64.StdEncoding.DecodeString("aGFzaGtleWhhc2hrZXloYXNoa2V5aGFzaGtleWhhc2hrZXk=")
	m := hmac.New(sha256.New, key)
	m.Write([]byte("phone\x0013812345678"))
	want := m.Sum(nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if got := a.Hash("phone", "13812345678"); !bytes.Equal(got, want) {
					t.Errorf("hash %x, want %x", got, want)
					return
				}
				a.Hash("id_number", "330421199001011248")
			}
		}()
	}
	wg.Wait()
}

func BenchmarkHash(b *testing.B) {
	k, err := Parse("k1:"+k1, "k1", "aGFzaGtleWhhc2hrZXloYXNoa2V5aGFzaGtleWhhc2hrZXk=")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		k.Hash("id_number", "330421199001011248")
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	h := "aGFzaGtleWhhc2hrZXloYXNoa2V5aGFzaGtleWhhc2hrZXk="
	for name, args := range map[string][3]string{
		"short_key":       {"k1:c2hvcnQ=", "k1", h},
		"no_id":           {k1, "k1", h},
		"current_missing": {"k1:" + k1, "k9", h},
		"short_hash_key":  {"k1:" + k1, "k1", "c2hvcnQ="},
	} {
		if _, err := Parse(args[0], args[1], args[2]); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
