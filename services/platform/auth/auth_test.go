package auth

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	accountsv1 "github.com/tongban/tongban/proto/tongban/accounts/v1"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/platform/rpcerr"
	"github.com/tongban/tongban/services/platform/token"
)

func TestInterceptor(t *testing.T) {
	t.Parallel()
	const credential = "a-service-credential-of-this-test"
	demo := New(directory.Demo()).WithDemoTokens().WithService(credential).UnaryServerInterceptor()
	deployed := New(directory.Demo()).WithService(credential).UnaryServerInterceptor()
	var got Caller
	handler := func(ctx context.Context, _ any) (any, error) { got, _ = FromContext(ctx); return nil, nil }
	info := &grpc.UnaryServerInfo{FullMethod: "/tongban.intake.v1.IntakeService/GetCase"}
	tests := []struct {
		name      string
		intercept grpc.UnaryServerInterceptor
		md        metadata.MD
		code      codes.Code
		office    string
		role      string
	}{
		{"valid", demo, metadata.Pairs("authorization", "Bearer demo-dayun"), codes.OK, "330421102", "clerk"},
		{"missing", demo, nil, codes.Unauthenticated, "", ""},
		{"not_bearer", demo, metadata.Pairs("authorization", "Basic demo-dayun"), codes.Unauthenticated, "", ""},
		{"unknown", demo, metadata.Pairs("authorization", "Bearer nope"), codes.Unauthenticated, "", ""},
		// The demo tokens hold only where make run turns them on.
		{"demo token without demo tokens", deployed, metadata.Pairs("authorization", "Bearer demo-dayun"), codes.Unauthenticated, "", ""},
		// The service credential is accepted only under its own header,
		// never as a bearer token (which the gateway forwards).
		{"service credential", deployed, metadata.Pairs(ServiceHeader, credential), codes.OK, "330421.xfj", RoleService},
		{"service credential as a bearer", demo, metadata.Pairs("authorization", "Bearer "+credential), codes.Unauthenticated, "", ""},
		{"wrong service credential", demo, metadata.Pairs(ServiceHeader, "guess"), codes.Unauthenticated, "", ""},
		{"service header beside a token", demo, metadata.Pairs(ServiceHeader, "guess", "authorization", "Bearer demo-dayun"), codes.Unauthenticated, "", ""},
		{"no service credential configured", New(directory.Demo()).UnaryServerInterceptor(), metadata.Pairs(ServiceHeader, ""), codes.Unauthenticated, "", ""},
	}
	for _, tc := range tests {
		got = Caller{}
		ctx := context.Background()
		if tc.md != nil {
			ctx = metadata.NewIncomingContext(ctx, tc.md)
		}
		_, err := tc.intercept(ctx, nil, info, handler)
		if rpcerr.Code(err) != tc.code || got.Office.ID != tc.office || got.Role != tc.role {
			t.Errorf("%s: code %v office %q role %q, want %v %q %q", tc.name, rpcerr.Code(err), got.Office.ID, got.Role, tc.code, tc.office, tc.role)
		}
	}
	intercept := demo
	// Health checks need no token.
	if _, err := intercept(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/grpc.health.v1.Health/Check"}, handler); err != nil {
		t.Errorf("health check refused: %v", err)
	}
}

// TestAccessTokens: an access token the gateway signed authenticates its
// account's office and role; one claiming the internal services' role, or
// signed by another key, does not.
func TestAccessTokens(t *testing.T) {
	t.Parallel()
	seed := make([]byte, 32)
	seed[0] = 7
	keys := token.NewKey("t1", seed)
	signer, err := token.NewSigner(keys, "t1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := token.PublicKeys(keys)
	v, err := token.NewVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	a := New(directory.Demo()).WithTokens(v)
	sign := func(c token.Claims) string {
		s, _, err := signer.Sign(c, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	c, ok := a.Authenticate(sign(token.Claims{Account: "wang.fang", Office: "330421102", Role: "clerk"}))
	if !ok || c.Office.ID != "330421102" || c.Role != "clerk" || c.Account != "wang.fang" || c.County != "330421" {
		t.Errorf("a clerk's token: %+v %v", c, ok)
	}
	if _, ok := a.Authenticate(sign(token.Claims{Account: "x", Office: "330421.xfj", Role: RoleService})); ok {
		t.Error("a token claiming the internal services' role")
	}
	if _, ok := a.Authenticate(sign(token.Claims{Account: "x", Office: "330999999", Role: "clerk"})); ok {
		t.Error("a token for an office the county does not have")
	}
	if _, ok := New(directory.Demo()).Authenticate(sign(token.Claims{Account: "x", Office: "330421102", Role: "clerk"})); ok {
		t.Error("an authenticator without keys accepted a token")
	}
}

// TestRevocations: a service refuses an account's token once the gateway's
// revocations say its account was disabled, its sessions revoked after it
// was issued, or its API key revoked; and every account token while it has
// no current revocations.
func TestRevocations(t *testing.T) {
	t.Parallel()
	seed := make([]byte, 32)
	seed[0] = 9
	keys := token.NewKey("t1", seed)
	signer, _ := token.NewSigner(keys, "t1", time.Hour)
	pub, _ := token.PublicKeys(keys)
	v, _ := token.NewVerifier(pub)
	issued := time.Now().Add(-time.Minute)
	sign := func(c token.Claims) string {
		s, _, err := signer.Sign(c, issued)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	clerk := sign(token.Claims{Account: "wang.fang", Office: "330421102", Role: "clerk"})
	system := sign(token.Claims{Account: "dayun.system", Office: "330421102", Role: "system", APIKey: "k1"})
	other := sign(token.Claims{Account: "li.na", Office: "330421102", Role: "clerk"})
	read := func(accounts []*accountsv1.AccountRevocation, keys ...string) *accountsv1.ListRevocationsResponse {
		return &accountsv1.ListRevocationsResponse{Accounts: accounts, RevokedApiKeys: keys}
	}
	tests := []struct {
		name   string
		read   *accountsv1.ListRevocationsResponse
		age    time.Duration // how long ago the revocations were read (-1: never)
		tok    string
		reason string // "" when accepted
	}{
		{"nothing revoked", read(nil), 0, clerk, ""},
		{"never read", nil, -1, clerk, "REVOCATIONS_UNKNOWN"},
		{"read too long ago", read(nil), time.Minute, clerk, "REVOCATIONS_UNKNOWN"},
		{"disabled", read([]*accountsv1.AccountRevocation{{Username: "wang.fang", Disabled: true}}), 0, clerk, "TOKEN_REVOKED"},
		{"sessions revoked after issue", read([]*accountsv1.AccountRevocation{{Username: "wang.fang", TokensValidAfter: timestamppb.New(issued.Add(time.Second))}}), 0, clerk, "TOKEN_REVOKED"},
		{"sessions revoked before issue", read([]*accountsv1.AccountRevocation{{Username: "wang.fang", TokensValidAfter: timestamppb.New(issued.Add(-time.Hour))}}), 0, clerk, ""},
		{"another account disabled", read([]*accountsv1.AccountRevocation{{Username: "wang.fang", Disabled: true}}), 0, other, ""},
		{"API key revoked", read(nil, "k1"), 0, system, "TOKEN_REVOKED"},
		{"another API key revoked", read(nil, "k2"), 0, system, ""},
	}
	for _, tc := range tests {
		r := &Revocations{}
		if tc.age >= 0 {
			r.Set(tc.read, time.Now().Add(-tc.age))
		}
		a := New(directory.Demo()).WithTokens(v).WithRevocations(r)
		_, err := a.authenticate(tc.tok)
		if got := rpcerr.Reason(err); got != tc.reason {
			t.Errorf("%s: %v (reason %q), want reason %q", tc.name, err, got, tc.reason)
		}
	}
}
