package e2e

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/tongban/tongban/services/devkit/stack"
)

// otlpReceiver is an OTLP/HTTP trace endpoint that keeps what it receives:
// for each trace id, the "service: span" names.
type otlpReceiver struct {
	mu     sync.Mutex
	traces map[string][]string
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				id := hex.EncodeToString(sp.GetTraceId())
				o.traces[id] = append(o.traces[id], service+": "+sp.GetName())
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Write(out) //nolint:errcheck
}

func (o *otlpReceiver) spans(trace string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := append([]string(nil), o.traces[trace]...)
	sort.Strings(out)
	return out
}

// TestTraces follows one registration through gateway → intake → the
// database, across intake's outbox into assignment, and across
// assignment's outbox into the services that follow it: one trace, started
// by the caller's traceparent header.
func TestTraces(t *testing.T) {
	rec := &otlpReceiver{traces: map[string][]string{}}
	otlp := httptest.NewServer(rec)
	defer otlp.Close()
	ports, err := stack.FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	s, err := stack.Start(t.Context(), stack.Options{
		BinDir: binDir, DatabaseURL: testDB.NewEmptyDatabaseURL(t), Ports: ports, LogDir: t.TempDir(), BlobDir: t.TempDir(),
		ExtraEnv: append(stack.NewSecrets(), "OTEL_EXPORTER_OTLP_ENDPOINT="+otlp.URL, "OTEL_BSP_SCHEDULE_DELAY=100"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	c := &client{t: t, base: s.GatewayURL()}
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	c.do("POST", "/v1/cases", "demo-dayun", map[string]any{
		"channel": "CHANNEL_PHONE", "township": "330421102", "caseClass": "CASE_CLASS_CLAIM", "anonymous": true,
		"subject": "追踪演练", "content": "电话反映路灯损坏。",
	}, "traceparent", "00-"+trace+"-00f067aa0ba902b7-01").must(t, 201, "register")
	want := []string{
		"gateway: POST /v1/cases",
		"intake: tongban.intake.v1.IntakeService/CreateCase",
		"intake: sql",
		"assignment: apply tongban.events.v1.CaseRegistered",
		"assignment: sql",
		"scheduling: apply tongban.events.v1.CaseMoved",
		"reporting: apply tongban.events.v1.CaseMoved",
		"intake: apply tongban.events.v1.CaseMoved",
	}
	c.eventually("one trace across the services and their outboxes", func() string {
		got := strings.Join(rec.spans(trace), "\n")
		var missing []string
		for _, w := range want {
			if !strings.Contains(got, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) > 0 {
			return "missing " + strings.Join(missing, ", ") + " in:\n" + got
		}
		return ""
	})
	for _, sp := range rec.spans(trace) {
		if strings.Contains(sp, "330421199") || strings.Contains(sp, "138") {
			t.Errorf("a span names identity: %s", sp)
		}
	}
}
