package metrics

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRPCAndGauges(t *testing.T) {
	t.Parallel()
	m := New("intake")
	unary := m.UnaryServerInterceptor()
	info := &grpc.UnaryServerInfo{FullMethod: "/tongban.intake.v1.IntakeService/CreateCase"}
	for _, err := range []error{nil, nil, status.Error(codes.InvalidArgument, "bad")} {
		if _, got := unary(context.Background(), nil, info, func(context.Context, any) (any, error) { return nil, err }); got != err {
			t.Fatalf("interceptor changed the error: %v", got)
		}
	}
	m.Gauge("tongban_test_gauge", "a test gauge", func() float64 { return 42 })
	m.GaugeVec("tongban_test_vec", "a test vector", "kind", func() map[string]float64 { return map[string]float64{"a": 1, "b": 2} })
	m.FeedLag.WithLabelValues("assignment").Set(1.5)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`tongban_rpc_requests_total{code="OK",method="/tongban.intake.v1.IntakeService/CreateCase",service="intake"} 2`,
		`tongban_rpc_requests_total{code="InvalidArgument",method="/tongban.intake.v1.IntakeService/CreateCase",service="intake"} 1`,
		`tongban_rpc_duration_seconds_count{method="/tongban.intake.v1.IntakeService/CreateCase",service="intake"} 3`,
		`tongban_test_gauge{service="intake"} 42`,
		`tongban_test_vec{kind="b",service="intake"} 2`,
		`tongban_feed_lag_seconds{feed="assignment",service="intake"} 1.5`,
		"go_goroutines ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestDashboardNamesRealMetrics: the Grafana dashboard in deploy/ queries
// only metrics this package and the services register.
func TestDashboardNamesRealMetrics(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../../deploy/grafana/tongban.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{
		"tongban_rpc_requests_total": true, "tongban_rpc_duration_seconds_bucket": true, "tongban_feed_lag_seconds": true,
		"tongban_feed_events_total": true, "tongban_outbox_events": true, "tongban_jobs_due": true, "tongban_supervisions_open": true,
	}
	name := regexp.MustCompile(`tongban_[a-z_]+`)
	used := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				used++
				if !known[n] {
					t.Errorf("panel %q queries %s, which nothing registers", p.Title, n)
				}
			}
		}
	}
	if len(dash.Panels) < 8 || used < 8 {
		t.Errorf("%d panels, %d metric references", len(dash.Panels), used)
	}
}
