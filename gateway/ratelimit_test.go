package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRateLimit(t *testing.T) {
	t.Parallel()
	h := RateLimit(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }), 5)
	send := func(token string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/v1/cases", nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	limited := 0
	for range 40 {
		if w := send("demo-dayun"); w.Code == http.StatusTooManyRequests {
			limited++
			if w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), `"message"`) {
				t.Fatalf("429 without Retry-After or message: %v %s", w.Header(), w.Body)
			}
		}
	}
	// A burst of 10 passes, the rest of 40 instant requests are refused.
	if limited < 25 || limited > 30 {
		t.Errorf("%d of 40 refused, want about 30", limited)
	}
	if w := send("demo-xitang"); w.Code != http.StatusOK {
		t.Errorf("another caller was limited: %d", w.Code)
	}
	if w := send(""); w.Code != http.StatusOK {
		t.Errorf("an anonymous caller's first request: %d", w.Code)
	}
	if off := RateLimit(http.NotFoundHandler(), 0); off == nil {
		t.Error("RateLimit(…, 0) returned nil")
	}
}
