package e2e

import (
	"strings"
	"testing"

	"github.com/tongban/tongban/services/devkit/democlock"
)

// TestLocalDayOffMovesTheEnforcedDate: the county gives the last day of a
// petitioner's review window off; the window shown moves to the next day,
// on the case's deadlines and on the case alike, the case's history says
// so, and a request for review on that next day is accepted: the date
// shown is the date enforced.
func TestLocalDayOffMovesTheEnforcedDate(t *testing.T) {
	const clockKey = "the-calendar-tests-demo-clock-key"
	s, _, _ := startStackEnv(t, democlock.Env+"="+clockKey)
	c := &client{t: t, base: s.GatewayURL()}
	at := func(when string) []string { return []string{democlock.Header, when, democlock.KeyHeader, clockKey} }
	num := c.do("POST", "/v1/cases", "demo-dayun", map[string]any{
		"channel": "CHANNEL_VISIT", "township": "330421102", "caseClass": "CASE_CLASS_CLAIM", "anonymous": true,
		"receiveTime": "2026-05-06T01:00:00Z", "subject": "宅基地界址纠纷", "content": "与邻居宅基地界址有争议，请求处理。",
	}, at("2026-05-06T09:00:00+08:00")...).must(t, 201, "register").str("caseNumber")
	path := "/v1/cases/" + num
	c.eventually("assignment has the case", func() string {
		if h := c.do("GET", path+"/history", "demo-dayun", nil); !strings.Contains(h.raw, "ACTION_REGISTER") {
			return h.raw
		}
		return ""
	})
	c.do("POST", path+":accept", "demo-dayun", map[string]any{}, at("2026-05-07T09:00:00+08:00")...).must(t, 200, "accept")
	c.do("POST", path+":answer", "demo-dayun", map[string]any{"outcome": "ANSWER_OUTCOME_EXPLAIN", "text": "经调查，界址以1998年确权为准。"},
		at("2026-06-01T10:00:00+08:00")...).must(t, 200, "answer")
	// 30 days from the answer: 2026-07-01, a Wednesday.
	window := func(want string) func() string {
		return func() string {
			d := c.do("GET", path+"/deadlines", "demo-dayun", nil)
			h := c.do("GET", path+"/history", "demo-dayun", nil)
			if !strings.Contains(d.raw, `"kind":"CLOCK_KIND_REVIEW_REQUEST"`) || !strings.Contains(d.raw, want) ||
				!strings.HasPrefix(h.str("case", "nextInstanceDue"), want) {
				return "deadlines " + d.raw + "; case's nextInstanceDue " + h.str("case", "nextInstanceDue")
			}
			return ""
		}
	}
	c.eventually("the review window ends on 2026-07-01", window("2026-07-01T15:59:59"))
	c.do("POST", "/v1/calendar/localRestDays", "demo-bureau", map[string]any{"date": "2026-07-01", "title": "防汛停工"}).must(t, 200, "a local day off")
	c.eventually("the window, shown and enforced, ends on 2026-07-02", window("2026-07-02T15:59:59"))
	c.eventually("the case's history says the deadline moved", func() string {
		h := c.do("GET", path+"/history", "demo-dayun", nil)
		if !strings.Contains(h.raw, "ACTION_DEADLINE_MOVED") || !strings.Contains(h.raw, "申请复查期限随工作日历调整：2026-07-01 → 2026-07-02") {
			return h.raw
		}
		return ""
	})
	r := c.do("POST", path+":requestReview", "demo-dayun", map[string]any{"reason": "对答复不服，申请复查。"}, at("2026-07-02T10:00:00+08:00")...)
	if r.status != 200 || r.str("state") != "CASE_STATE_REVIEW_REQUESTED" {
		t.Fatalf("a request for review on the moved last day: %d %s", r.status, r.raw)
	}
}
