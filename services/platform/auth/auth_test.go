package auth

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tongban/tongban/services/platform/directory"
	"github.com/tongban/tongban/services/platform/token"
)

func TestInterceptor(t *testing.T) {
	t.Parallel()
	a := New(directory.Demo())
	intercept := a.UnaryServerInterceptor()
	var got Caller
	handler := func(ctx context.Context, _ any) (any, error) { got, _ = FromContext(ctx); return nil, nil }
	info := &grpc.UnaryServerInfo{FullMethod: "/tongban.intake.v1.IntakeService/GetCase"}
	tests := []struct {
		name   string
		header string
		code   codes.Code
		office string
	}{
		{"valid", "Bearer demo-dayun", codes.OK, "330421102"},
		{"missing", "", codes.Unauthenticated, ""},
		{"not_bearer", "Basic demo-dayun", codes.Unauthenticated, ""},
		{"unknown", "Bearer nope", codes.Unauthenticated, ""},
	}
	for _, tc := range tests {
		got = Caller{}
		ctx := context.Background()
		if tc.header != "" {
			ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", tc.header))
		}
		_, err := intercept(ctx, nil, info, handler)
		if status.Code(err) != tc.code || got.Office.ID != tc.office {
			t.Errorf("%s: code %v office %q, want %v %q", tc.name, status.Code(err), got.Office.ID, tc.code, tc.office)
		}
	}
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
