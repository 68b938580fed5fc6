package e2e

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	accountsv1 "github.com/tongban/tongban/proto/tongban/accounts/v1"
	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	reportingv1 "github.com/tongban/tongban/proto/tongban/reporting/v1"
	schedulingv1 "github.com/tongban/tongban/proto/tongban/scheduling/v1"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

// TestRevocationAtServicePorts: an account's access token, taken straight
// to each service's gRPC port (around the gateway), stops working within
// 2 s of the account being disabled or its sessions revoked, as it does at
// the gateway. The gateway's internal revocations are for the service role
// only, and the service credential is nothing at the edge.
func TestRevocationAtServicePorts(t *testing.T) {
	s, _, _ := startStackEnv(t, "TONGBAN_BOOTSTRAP_ADMIN=admin:revocation-admin-password")
	c := &client{t: t, base: s.GatewayURL()}
	signIn := func(user, password string) string {
		t.Helper()
		return c.do("POST", "/v1/sessions", "", map[string]any{"username": user, "password": password}).must(t, 200, "sign in "+user).str("accessToken")
	}
	admin := signIn("admin", "revocation-admin-password")
	for _, user := range []string{"wang.fang", "li.na"} {
		c.do("POST", "/v1/accounts", admin, map[string]any{"account": map[string]any{"name": "accounts/" + user, "kind": "ACCOUNT_KIND_PERSON",
			"office": "offices/330421102", "role": "clerk", "displayName": user}, "password": "dayun-clerk-2026"}).must(t, 201, "create "+user)
	}
	dial := func(name string) *grpc.ClientConn {
		conn, err := grpc.NewClient(s.GRPCAddr(name), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	intake := intakev1.NewIntakeServiceClient(dial("intake"))
	assignment := assignmentv1.NewAssignmentServiceClient(dial("assignment"))
	scheduling := schedulingv1.NewSchedulingServiceClient(dial("scheduling"))
	reporting := reportingv1.NewReportingServiceClient(dial("reporting"))
	// One read per service that any clerk may make.
	reads := map[string]func(ctx context.Context) error{
		"intake": func(ctx context.Context) error {
			_, err := intake.ListCases(ctx, &intakev1.ListCasesRequest{})
			return err
		},
		"assignment": func(ctx context.Context) error {
			_, err := assignment.ListOfficeQueue(ctx, &assignmentv1.ListOfficeQueueRequest{Parent: "offices/330421102"})
			return err
		},
		"scheduling": func(ctx context.Context) error {
			_, err := scheduling.GetCalendarDay(ctx, &schedulingv1.GetCalendarDayRequest{Name: "calendar/days/2026-12-07"})
			return err
		},
		"reporting": func(ctx context.Context) error {
			_, err := reporting.GetSummary(ctx, &reportingv1.GetSummaryRequest{Name: "counties/330421/summary"})
			return err
		},
	}
	as := func(tok string) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t.Cleanup(cancel)
		return metadataCtx(ctx, "authorization", "Bearer "+tok)
	}
	for _, tc := range []struct {
		user   string
		revoke func()
	}{
		{"wang.fang", func() {
			c.do("POST", "/v1/accounts/wang.fang:disable", admin, map[string]any{}).must(t, 200, "disable wang.fang")
		}},
		{"li.na", func() {
			c.do("POST", "/v1/accounts/li.na:revokeSessions", admin, map[string]any{}).must(t, 200, "revoke li.na's sessions")
		}},
	} {
		tok := signIn(tc.user, "dayun-clerk-2026")
		for svc, read := range reads {
			if err := read(as(tok)); err != nil {
				t.Fatalf("%s's token at %s before revocation: %v", tc.user, svc, err)
			}
		}
		tc.revoke()
		revoked := time.Now()
		left := map[string]bool{"intake": true, "assignment": true, "scheduling": true, "reporting": true}
		for len(left) > 0 && time.Since(revoked) < 5*time.Second {
			for svc := range left {
				err := reads[svc](as(tok))
				if rpcerr.Code(err) == codes.Unauthenticated && rpcerr.Reason(err) == "TOKEN_REVOKED" {
					if took := time.Since(revoked); took > 2*time.Second {
						t.Errorf("%s's revoked token held at %s for %s, want at most 2 s", tc.user, svc, took.Round(time.Millisecond))
					}
					delete(left, svc)
				} else if err != nil {
					t.Fatalf("%s at %s: %v", tc.user, svc, err)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(left) > 0 {
			t.Errorf("%s's revoked token still holds at %v after 5 s", tc.user, left)
		}
		c.do("GET", "/v1/cases", tok, nil).must(t, 401, "the revoked token at the gateway")
	}

	// The gateway's internal port answers the service role only.
	revocations := accountsv1.NewRevocationServiceClient(dial("gateway"))
	clerk := signIn("admin", "revocation-admin-password")
	if _, err := revocations.ListRevocations(as(clerk), &accountsv1.ListRevocationsRequest{}); rpcerr.Code(err) != codes.Unauthenticated {
		t.Errorf("an account read the revocations: %v", err)
	}
	svcCtx := metadataCtx(context.Background(), auth.ServiceHeader, serviceCredential)
	list, err := revocations.ListRevocations(svcCtx, &accountsv1.ListRevocationsRequest{})
	if err != nil || len(list.GetAccounts()) != 2 {
		t.Errorf("the revocations: %v, %v", list, err)
	}
}

// metadataCtx is ctx sending the metadata key, value.
func metadataCtx(ctx context.Context, key, value string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, key, value)
}
