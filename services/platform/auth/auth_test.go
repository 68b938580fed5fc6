package auth

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tongban/tongban/services/platform/directory"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

func TestCanSeeCase(t *testing.T) {
	t.Parallel()
	dir := directory.Demo()
	a := New(dir)
	caller := func(token string) Caller {
		c, ok := a.Authenticate(token)
		if !ok {
			t.Fatalf("token %q unknown", token)
		}
		return c
	}
	involved := []string{"330421102", "330421.xfj", "330421.zjj"} // 大云镇 referred up, bureau sent to 住建局
	tests := []struct {
		token  string
		county string
		want   bool
	}{
		{"demo-dayun", "330421", true},   // registered it
		{"demo-xitang", "330421", false}, // another township
		{"demo-bureau", "330421", true},  // the county bureau sees the county
		{"demo-zjj", "330421", true},     // holds it
		{"demo-rsj", "330421", false},    // never held it
		{"demo-bureau", "330681", false}, // another county
	}
	for _, tc := range tests {
		if got := CanSeeCase(caller(tc.token), tc.county, involved); got != tc.want {
			t.Errorf("CanSeeCase(%s, %s) = %v, want %v", tc.token, tc.county, got, tc.want)
		}
	}
}

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

func TestForOfficeAndStaff(t *testing.T) {
	t.Parallel()
	a := New(directory.Demo())
	caller := func(token string) Caller {
		c, ok := a.Authenticate(token)
		if !ok {
			t.Fatalf("token %s", token)
		}
		return c
	}
	for _, tc := range []struct {
		token, office string
		want          bool
	}{
		{"demo-dayun", "330421102", true},
		{"demo-dayun", "330421103", false},
		{"demo-zjj", "330421.rsj", false},
		{"demo-bureau", "330421103", true},
	} {
		if got := ForOffice(caller(tc.token), tc.office); got != tc.want {
			t.Errorf("ForOffice(%s, %s) = %v", tc.token, tc.office, got)
		}
	}
	if _, err := RequireStaff(WithCaller(context.Background(), caller("demo-internal")), "move cases"); rpcerr.Reason(err) != "ROLE_NOT_ALLOWED" {
		t.Errorf("service account: %v", err)
	}
	if c, err := RequireStaff(WithCaller(context.Background(), caller("demo-dayun")), "move cases"); err != nil || c.Office.ID != "330421102" {
		t.Errorf("clerk: %v, %v", c, err)
	}
	if _, err := RequireStaff(context.Background(), "move cases"); rpcerr.Reason(err) != "TOKEN_MISSING" {
		t.Errorf("no caller: %v", err)
	}
}
