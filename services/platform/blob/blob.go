// Package blob stores file bytes by their SHA-256, behind one interface:
// [Dir] keeps them in a local directory (make run, tests, a single server);
// an object-storage implementation (S3-compatible) can take its place
// without touching the services.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
)

// Ref identifies stored bytes.
type Ref struct {
	SHA256 string // hex
	Size   int64
}

// Store keeps bytes by content.
type Store interface {
	// Put stores what r yields, at most max bytes (ErrTooLarge beyond).
	// Storing the same bytes twice keeps one copy.
	Put(ctx context.Context, r io.Reader, max int64) (Ref, error)
	// Open reads stored bytes (ErrNotFound when absent).
	Open(ctx context.Context, sha256Hex string) (io.ReadCloser, error)
}

// Errors of a Store.
var (
	ErrTooLarge = errors.New("blob: too large")
	ErrNotFound = errors.New("blob: not found")
)

// Dir is a Store in a local directory: files at root/ab/cdef… (the hash
// split after two characters), written to a temporary file and renamed
// into place, so a reader never sees half a file.
type Dir struct{ Root string }

var hexSHA = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Put implements Store.
func (d Dir) Put(ctx context.Context, r io.Reader, max int64) (Ref, error) {
	if err := os.MkdirAll(d.Root, 0o750); err != nil {
		return Ref{}, fmt.Errorf("blob: %w", err)
	}
	tmp, err := os.CreateTemp(d.Root, ".upload-*")
	if err != nil {
		return Ref{}, fmt.Errorf("blob: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, max+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Ref{}, fmt.Errorf("blob: write: %w", err)
	}
	if n > max {
		return Ref{}, ErrTooLarge
	}
	ref := Ref{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}
	path := d.path(ref.SHA256)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return Ref{}, fmt.Errorf("blob: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return Ref{}, fmt.Errorf("blob: %w", err)
	}
	return ref, nil
}

// Open implements Store.
func (d Dir) Open(_ context.Context, sha256Hex string) (io.ReadCloser, error) {
	if !hexSHA.MatchString(sha256Hex) {
		return nil, ErrNotFound
	}
	f, err := os.Open(d.path(sha256Hex))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	return f, err
}

func (d Dir) path(h string) string { return filepath.Join(d.Root, h[:2], h[2:]) }
