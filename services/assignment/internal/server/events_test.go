package server

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/devkit/authtest"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

// feedFixture: 大云镇's case referred up and transferred, 西塘镇's case
// untouched; the outbox holds 4 moves.
func feedFixture(t *testing.T) (*Server, *Events) {
	t.Helper()
	s, clk := newServer(t)
	register(t, s, reg{number: "330421-2026-000001", township: "330421102"})
	register(t, s, reg{number: "330421-2026-000002", township: "330421103"})
	walk(t, s, clk, caseName, []step{
		{token: "demo-dayun", call: referUp, state: registeredState, holder: bureau},
		{token: "demo-bureau", call: transfer(zjj), state: transferred, holder: bureau},
	})
	e := &Events{Store: s.Store, Poll: 20 * time.Millisecond}
	readable(t, e, 4)
	return s, e
}

// readable waits until the feed serves n events: an event becomes readable
// once every transaction that started before it, in any database of the
// cluster (other tests run beside this one), has finished.
func readable(t *testing.T, e *Events, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := e.ListCaseEvents(authtest.As(t, "demo-bureau"), &eventsv1.ListCaseEventsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.GetEvents()) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the feed serves %d events, want %d", len(r.GetEvents()), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestListCaseEventsFiltered(t *testing.T) {
	t.Parallel()
	_, e := feedFixture(t)
	tests := []struct {
		token string
		want  []string // case numbers of the events, in order
	}{
		{"demo-dayun", []string{"330421-2026-000001", "330421-2026-000001", "330421-2026-000001"}},
		{"demo-xitang", []string{"330421-2026-000002"}},
		{"demo-zjj", []string{"330421-2026-000001", "330421-2026-000001", "330421-2026-000001"}}, // asked to take it
		{"demo-rsj", nil},
		{"demo-bureau", []string{"330421-2026-000001", "330421-2026-000002", "330421-2026-000001", "330421-2026-000001"}},
	}
	for _, tc := range tests {
		t.Run(tc.token, func(t *testing.T) {
			t.Parallel()
			r, err := e.ListCaseEvents(authtest.As(t, tc.token), &eventsv1.ListCaseEventsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ev := range r.GetEvents() {
				got = append(got, ev.GetCaseNumber())
			}
			if len(got) != len(tc.want) {
				t.Fatalf("events of %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("events of %v, want %v", got, tc.want)
				}
			}
			if r.GetNextCursor() == "" {
				t.Error("no next_cursor after reading the whole feed")
			}
			// From next_cursor there is nothing more.
			again, err := e.ListCaseEvents(authtest.As(t, tc.token), &eventsv1.ListCaseEventsRequest{AfterCursor: r.GetNextCursor()})
			if err != nil || len(again.GetEvents()) != 0 || again.GetNextCursor() != r.GetNextCursor() {
				t.Errorf("after the end: %v, %v", again, err)
			}
		})
	}
}

func TestListCaseEventsPages(t *testing.T) {
	t.Parallel()
	_, e := feedFixture(t)
	ctx := authtest.As(t, "demo-bureau")
	seen := map[string]bool{}
	cursor := ""
	for range 10 {
		r, err := e.ListCaseEvents(ctx, &eventsv1.ListCaseEventsRequest{AfterCursor: cursor, PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.GetEvents()) == 0 {
			break
		}
		ev := r.GetEvents()[0]
		if seen[ev.GetEventId()] || r.GetNextCursor() != ev.GetCursor() {
			t.Fatalf("page after %q: %v (next %q)", cursor, ev, r.GetNextCursor())
		}
		seen[ev.GetEventId()] = true
		cursor = r.GetNextCursor()
	}
	if len(seen) != 4 {
		t.Errorf("paged through %d events, want 4", len(seen))
	}
	for _, bad := range []*eventsv1.ListCaseEventsRequest{{AfterCursor: "nonsense"}, {PageSize: -1}, {PageSize: 1001}} {
		if _, err := e.ListCaseEvents(ctx, bad); rpcerr.Code(err) != codes.InvalidArgument {
			t.Errorf("%v: %v, want InvalidArgument", bad, err)
		}
	}
}

// TestWatchCaseEvents follows the feed over a real gRPC server on loopback:
// the replay, then a move made while watching; another township's watch
// sees nothing of it.
func TestWatchCaseEvents(t *testing.T) {
	t.Parallel()
	s, e := feedFixture(t)
	authn := auth.New(directory.Demo()).WithDemoTokens()
	srv := grpc.NewServer(grpc.StreamInterceptor(authn.StreamServerInterceptor()))
	eventsv1.RegisterCaseEventServiceServer(srv, e)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis) //nolint:errcheck
	t.Cleanup(srv.Stop)
	watch := func(token string) (eventsv1.CaseEventService_WatchCaseEventsClient, context.CancelFunc) {
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()), auth.DialToken(token))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		stream, err := eventsv1.NewCaseEventServiceClient(conn).WatchCaseEvents(ctx, &eventsv1.WatchCaseEventsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return stream, cancel
	}
	dayun, stopDayun := watch("demo-dayun")
	defer stopDayun()
	xitang, stopXitang := watch("demo-xitang")
	defer stopXitang()
	for i := range 3 { // the replay
		if _, err := dayun.Recv(); err != nil {
			t.Fatalf("replay %d: %v", i, err)
		}
	}
	if r, err := xitang.Recv(); err != nil || r.GetEvent().GetCaseNumber() != "330421-2026-000002" {
		t.Fatalf("西塘镇's replay: %v, %v", r, err)
	}
	// A move while watching reaches 大云镇's watch.
	if _, err := signFor(authtest.As(t, "demo-zjj"), s, caseName); err != nil {
		t.Fatal(err)
	}
	r, err := dayun.Recv()
	if err != nil || r.GetEvent().GetCaseMoved().GetEntry().GetAction().String() != "ACTION_SIGN_FOR" {
		t.Fatalf("followed move: %v, %v", r, err)
	}
	// 西塘镇's watch gets nothing more before it hangs up.
	got := make(chan error, 1)
	go func() {
		_, err := xitang.Recv()
		got <- err
	}()
	time.Sleep(300 * time.Millisecond)
	stopXitang()
	if err := <-got; rpcerr.Code(err) != codes.Canceled {
		t.Errorf("西塘镇's watch received %v, want only its own hang-up", err)
	}
}
