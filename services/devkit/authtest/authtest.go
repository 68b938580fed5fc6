// Package authtest gives tests a context carrying the caller a demo token
// names, as the auth interceptor would.
package authtest

import (
	"context"
	"testing"

	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/platform/auth"
)

var demo = auth.New(directory.Demo()).WithDemoTokens()

// ServiceCredential is the internal service credential of Service's
// contexts and of tests' servers (WithService).
const ServiceCredential = "test-service-credential"

// Service returns a context whose caller is the internal service role.
func Service(t testing.TB) context.Context {
	t.Helper()
	d := directory.Demo()
	return auth.WithCaller(context.Background(), auth.Caller{Office: d.Bureau(), Role: auth.RoleService, County: d.County.Code})
}

// ServiceToken names the internal service role to As (it is no demo
// token: the service role is never a bearer token).
const ServiceToken = "internal-service"

// As returns a context whose caller is the demo token's office and role
// (ServiceToken: the internal service role).
func As(t testing.TB, token string) context.Context {
	t.Helper()
	if token == ServiceToken {
		return Service(t)
	}
	c, ok := demo.Authenticate(token)
	if !ok {
		t.Fatalf("authtest: unknown demo token %q", token)
	}
	return auth.WithCaller(context.Background(), c)
}

// AsAccount returns a context whose caller is an account of the demo
// county: office (an id of the demo directory), role and username.
func AsAccount(t testing.TB, office, role, account string) context.Context {
	t.Helper()
	d := directory.Demo()
	o, ok := d.Office(office)
	if !ok {
		t.Fatalf("authtest: no office %q in the demo directory", office)
	}
	return auth.WithCaller(context.Background(), auth.Caller{Office: o, Role: role, County: d.County.Code, Account: account})
}
