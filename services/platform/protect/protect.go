// Package protect keeps petitioner identity unreadable at rest: values are
// sealed with AES-256-GCM under a named key (the key id is stored with the
// row, so keys can be rotated without re-encrypting at once), bound to the
// case and field they belong to, and looked up through keyed hashes
// (HMAC-SHA-256) that reveal nothing without the hash key.
package protect

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// Keys holds the sealing keys by id, the id new values are sealed with, and
// the hash key.
type Keys struct {
	current string
	aeads   map[string]cipher.AEAD
	hashKey []byte
	// hashers are HMACs keyed with hashKey, reused: Reset returns one to
	// its keyed state without hashing the key again.
	hashers sync.Pool
}

// ErrUnknownKey says a value was sealed with a key this process lacks.
var ErrUnknownKey = errors.New("protect: unknown key id")

// Parse reads keys from configuration: sealing keys as
// "id1:base64key,id2:base64key" (each 32 bytes), the current id, and a hash
// key (base64, at least 32 bytes).
func Parse(sealing, current, hash string) (*Keys, error) {
	k := &Keys{current: current, aeads: map[string]cipher.AEAD{}}
	for _, part := range strings.Split(sealing, ",") {
		id, b64, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || id == "" {
			return nil, fmt.Errorf("protect: sealing keys must be \"id:base64key,…\"")
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("protect: key %q must be 32 bytes, base64-encoded", id)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		k.aeads[id] = aead
	}
	if _, ok := k.aeads[current]; !ok {
		return nil, fmt.Errorf("protect: current key id %q is not among the sealing keys", current)
	}
	raw, err := base64.StdEncoding.DecodeString(hash)
	if err != nil || len(raw) < 32 {
		return nil, errors.New("protect: the hash key must be at least 32 bytes, base64-encoded")
	}
	k.hashKey = raw
	k.hashers.New = func() any { return hmac.New(sha256.New, k.hashKey) }
	return k, nil
}

// NewKey returns a fresh random 32-byte key, base64-encoded.
func NewKey() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// CurrentID is the id new values are sealed with.
func (k *Keys) CurrentID() string { return k.current }

// Seal encrypts value with the current key, bound to context (e.g.
// "330421-2026-000001/id_number"), so a sealed value cannot be moved to
// another row or field. The empty value seals to nil.
func (k *Keys) Seal(value, context string) []byte {
	if value == "" {
		return nil
	}
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(value)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return aead.Seal(nonce, nonce, []byte(value), []byte(context))
}

// Open decrypts a value sealed under key id with the same context.
func (k *Keys) Open(sealed []byte, id, context string) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	aead, ok := k.aeads[id]
	if !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownKey, id)
	}
	if len(sealed) < aead.NonceSize() {
		return "", errors.New("protect: sealed value too short")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(context))
	if err != nil {
		return "", fmt.Errorf("protect: open: %w", err)
	}
	return string(plain), nil
}

// Hash is the keyed lookup hash of a value of a kind ("id_number",
// "phone"); nil for the empty value.
func (k *Keys) Hash(kind, value string) []byte {
	if value == "" {
		return nil
	}
	m := k.hashers.Get().(hash.Hash)
	defer k.hashers.Put(m)
	m.Reset()
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return m.Sum(make([]byte, 0, sha256.Size))
}
