// Package authtest gives tests a context carrying the caller a demo token
// names, as the auth interceptor would.
package authtest

import (
	"context"
	"testing"

	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/directory"
)

var demo = auth.New(directory.Demo())

// As returns a context whose caller is the demo token's office and role.
func As(t testing.TB, token string) context.Context {
	t.Helper()
	c, ok := demo.Authenticate(token)
	if !ok {
		t.Fatalf("authtest: unknown demo token %q", token)
	}
	return auth.WithCaller(context.Background(), c)
}
