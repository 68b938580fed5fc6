package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"
)

func TestDir(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := Dir{Root: t.TempDir()}
	data := bytes.Repeat([]byte("信访"), 1000)
	ref, err := d.Put(ctx, bytes.NewReader(data), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if ref.SHA256 != hex.EncodeToString(sum[:]) || ref.Size != int64(len(data)) {
		t.Fatalf("ref = %+v", ref)
	}
	again, err := d.Put(ctx, bytes.NewReader(data), 1<<20)
	if err != nil || again != ref {
		t.Fatalf("second put: %+v, %v", again, err)
	}
	r, err := d.Open(ctx, ref.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("read back different bytes")
	}
	if _, err := d.Put(ctx, bytes.NewReader(data), 10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	for _, bad := range []string{"../../etc/passwd", "", ref.SHA256[:63] + "0"} {
		if _, err := d.Open(ctx, bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(%q): %v", bad, err)
		}
	}
}
