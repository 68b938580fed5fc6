package e2e

import (
	"strings"
	"testing"
)

// TestOneEtagAcrossServices: a case has one etag, whichever service answers
// the route: the registration's (intake) and the moves' (assignment)
// versions together. The etag a client reads from GET, from the history or
// from a move's answer is the one it sends back to a move or a correction,
// in the body or as If-Match.
func TestOneEtagAcrossServices(t *testing.T) {
	s, _, _ := startStack(t)
	c := &client{t: t, base: s.GatewayURL()}
	reg := c.do("POST", "/v1/cases", "demo-dayun", map[string]any{
		"channel": "CHANNEL_VISIT", "township": "330421102", "caseClass": "CASE_CLASS_CLAIM", "anonymous": true,
		"subject": "村道路灯损坏", "content": "东云村主干道路灯损坏已两月，夜间出行不便。",
	}).must(t, 201, "register")
	num, path := reg.str("caseNumber"), "/v1/cases/"+reg.str("caseNumber")
	// Both services show the same etag once each has heard of the other.
	agree := func(want string) func() string {
		return func() string {
			g := c.do("GET", path, "demo-dayun", nil)
			h := c.do("GET", path+"/history", "demo-dayun", nil)
			if g.str("etag") != want || h.str("case", "etag") != want {
				return "GET says " + g.str("etag") + ", the history " + h.str("case", "etag") + ", want " + want
			}
			return ""
		}
	}
	if reg.str("etag") != `"1.1"` {
		t.Fatalf("registration's etag %s, want \"1.1\"", reg.str("etag"))
	}
	c.eventually("intake and assignment agree on the new case's etag", agree(`"1.1"`))

	// A move with the etag read from GET; a correction with the move's.
	up := c.do("POST", path+":referUp", "demo-dayun", map[string]any{"reason": "涉及县级部门职责", "etag": reg.str("etag")}).must(t, 200, "refer up with GET's etag")
	fixed := c.do("PATCH", path, "demo-dayun", map[string]any{"subject": "东云村主干道路灯损坏", "etag": up.str("etag")}).must(t, 200, "correct with the move's etag")
	// At once, before assignment has heard of the correction: the move
	// answers with the correction the client has seen.
	tr := c.do("POST", path+":transfer", "demo-bureau", map[string]any{"toOffice": "offices/330421.zjj", "reason": "属住建局职责"},
		"If-Match", fixed.str("etag")).must(t, 200, "transfer with the correction's etag as If-Match")
	if up.str("etag") != `"1.2"` || fixed.str("etag") != `"2.2"` || tr.str("etag") != `"2.3"` {
		t.Errorf("etags: refer up %s, correction %s, transfer %s; want \"1.2\", \"2.2\", \"2.3\"", up.str("etag"), fixed.str("etag"), tr.str("etag"))
	}
	c.eventually("both services show the transfer and the correction", agree(tr.str("etag")))

	// Stale etags are refused by whichever service owns the part, with the
	// current etag to reload from, and change nothing.
	for _, tc := range []struct {
		name, method, path, token string
		body                      map[string]any
	}{
		{"a correction with an etag from before the correction", "PATCH", path, "demo-dayun", map[string]any{"topic": "市政/路灯", "etag": up.str("etag")}},
		{"a move with an etag from before the transfer", "POST", path + ":signFor", "demo-zjj", map[string]any{"etag": fixed.str("etag")}},
		{"an etag of one service, as etags were", "POST", path + ":signFor", "demo-zjj", map[string]any{"etag": `"3"`}},
	} {
		r := c.do(tc.method, tc.path, tc.token, tc.body).must(t, 409, tc.name)
		if r.reason() != "ETAG_MISMATCH" || !strings.Contains(r.raw, `"etag":"\"2.3\""`) {
			t.Errorf("%s: %s, want ETAG_MISMATCH naming the current etag \"2.3\"", tc.name, r.raw)
		}
	}
	if h := c.do("GET", path+"/history", "demo-zjj", nil); h.str("case", "etag") != `"2.3"` || h.str("case", "state") != "CASE_STATE_TRANSFERRED" {
		t.Errorf("after refused writes: %s", h.raw)
	}
	// A list row carries the same etag as the case.
	c.eventually("the bureau's list shows the case's etag", func() string {
		l := c.do("GET", "/v1/cases?pageSize=50", "demo-bureau", nil)
		if !strings.Contains(l.raw, `"caseNumber":"`+num+`"`) || !strings.Contains(l.raw, `"etag":"\"2.3\""`) {
			return l.raw
		}
		return ""
	})
	c.do("POST", path+":signFor", "demo-zjj", map[string]any{}, "If-Match", tr.str("etag")).must(t, 200, "sign for with If-Match")
}
