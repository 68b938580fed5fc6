package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tongban/tongban/services/devkit/democlock"
)

// TestDashboardFigures builds a small county by hand over the API and
// checks, in the API and on the dashboard in Chromium, each figure the
// issue of figures that add up named: a township's figures count exactly
// the cases it may list (not a case about it that only the bureau holds),
// "open" is not ended, 化解率 beside 结案率, 同比 against the same months a
// year earlier, 环比 against the equal span just before, and a comparison
// the records do not cover shown as none.
func TestDashboardFigures(t *testing.T) {
	const clockKey = "the-figures-tests-demo-clock-key"
	s, _, dbURL := startStackEnv(t, democlock.Env+"="+clockKey)
	c := &client{t: t, base: s.GatewayURL()}
	at := func(day string) []string {
		return []string{democlock.Header, day + "T10:00:00+08:00", democlock.KeyHeader, clockKey}
	}
	register := func(token, day, class, subject string) string {
		t.Helper()
		return c.do("POST", "/v1/cases", token, map[string]any{
			"channel": "CHANNEL_VISIT", "township": "330421102", "caseClass": class, "anonymous": true,
			"receiveTime": day + "T01:00:00Z", "subject": subject, "content": subject + "，请求处理。",
		}, at(day)...).must(t, 201, "register "+subject).str("caseNumber")
	}
	move := func(token, num, verb, day string, body map[string]any) {
		t.Helper()
		c.eventually("assignment has "+num, func() string {
			if h := c.do("GET", "/v1/cases/"+num+"/history", token, nil); h.status != 200 {
				return h.raw
			}
			return ""
		})
		c.do("POST", "/v1/cases/"+num+":"+verb, token, body, at(day)...).must(t, 200, verb+" "+num)
	}
	claim := "CASE_CLASS_CLAIM"
	// 大云镇's records begin in March 2025; one case a year before the
	// period (同比), two in the two months before it (环比).
	register("demo-dayun", "2025-03-10", claim, "农田灌溉渠堵塞")
	register("demo-dayun", "2025-11-04", claim, "村道积水")
	register("demo-dayun", "2026-08-20", claim, "垃圾清运不及时")
	register("demo-dayun", "2026-09-02", claim, "路灯损坏")
	// The period, October–November 2026: one closed after a satisfied
	// answer, one declined, one open; and an accusation about 大云镇 that
	// the bureau registered and holds, which 大云镇 may not open.
	closed := register("demo-dayun", "2026-10-05", claim, "小区雨污管网破损")
	move("demo-dayun", closed, "accept", "2026-10-06", map[string]any{})
	move("demo-dayun", closed, "answer", "2026-10-10", map[string]any{"outcome": "ANSWER_OUTCOME_SUPPORT", "text": "已安排维修。"})
	move("demo-dayun", closed, "evaluate", "2026-10-12", map[string]any{"rating": "RATING_SATISFIED"})
	move("demo-dayun", closed, "close", "2026-11-20", map[string]any{"note": "复查期限届满，未申请复查。"})
	declined := register("demo-dayun", "2026-10-06", claim, "邻里宅基地纠纷诉讼")
	move("demo-dayun", declined, "decline", "2026-10-08", map[string]any{"channel": "STATUTORY_CHANNEL_LITIGATION", "notice": "已在法院立案，请通过诉讼途径解决。"})
	register("demo-dayun", "2026-11-02", claim, "养老补贴未到账")
	accusation := register("demo-bureau", "2026-11-03", "CASE_CLASS_ACCUSATION", "反映镇干部违规发放补贴")

	settled(t, dbURL)
	report := func(token, query string) reply {
		t.Helper()
		return c.do("GET", "/v1/counties/-/report?"+query, token, nil).must(t, 200, token+"'s report")
	}
	period := "startMonth=2026-10&endMonth=2026-11"
	var own reply
	c.eventually("reporting has every case", func() string {
		own = report("demo-dayun", period)
		county := report("demo-bureau", period)
		if own.str("figures", "closed") != "1" || county.str("figures", "cases") != "4" {
			return own.raw + "\n" + county.raw
		}
		return ""
	})
	f := func(r reply, key string) string { return r.str("figures", key) }
	for _, tc := range []struct{ what, got, want string }{
		// 大云镇 lists three cases of the period, not the accusation.
		{"大云镇's cases", f(own, "cases"), "3"},
		{"大云镇's office", own.str("office"), "offices/330421102"},
		{"closed", f(own, "closed"), "1"},
		{"declined", f(own, "declined"), "1"},
		{"resolved", f(own, "resolved"), "1"},
		{"结案率 (closed + declined) / cases", fmt.Sprint(own.body["figures"].(map[string]any)["closedRate"]), fmt.Sprint(2.0 / 3)},
		{"化解率 resolved / (cases − declined)", fmt.Sprint(own.body["figures"].(map[string]any)["resolutionRate"]), "0.5"},
		{"同比 against 2025-10..11 (one case)", fmt.Sprint(own.body["casesChangeYearOnYear"]), "2"},
		{"同比's months", own.str("yearAgoStartMonth") + ".." + own.str("yearAgoEndMonth"), "2025-10..2025-11"},
		{"环比 against 2026-08..09 (two cases)", fmt.Sprint(own.body["casesChangePeriodOnPeriod"]), "0.5"},
		{"环比's months", own.str("previousStartMonth") + ".." + own.str("previousEndMonth"), "2026-08..2026-09"},
		{"the records' first month", own.str("recordsStartMonth"), "2025-03"},
		// The bureau's filter counts every case about 大云镇.
		{"concerning 大云镇", f(report("demo-bureau", period+"&township=330421102"), "cases"), "4"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %s, want %s", tc.what, tc.got, tc.want)
		}
	}
	// The figures count what the lists show: all time, 大云镇 lists seven
	// cases and its summary counts seven, five of them open.
	list := c.do("GET", "/v1/cases?pageSize=100", "demo-dayun", nil).must(t, 200, "大云镇's list")
	listed, _ := list.body["cases"].([]any)
	sum := c.do("GET", "/v1/counties/-/summary", "demo-dayun", nil).must(t, 200, "大云镇's summary")
	if len(listed) != 7 || sum.str("registered") != "7" || sum.str("open") != "5" || strings.Contains(list.raw, accusation) {
		t.Errorf("大云镇 lists %d cases; its summary: %s", len(listed), sum.raw)
	}
	c.do("GET", "/v1/cases/"+accusation, "demo-dayun", nil).must(t, 404, "大云镇 opens the bureau's accusation")

	// On the dashboard, 大云镇 sees the same, labelled as its own cases.
	browser := newBrowser(t)
	b := &browserPage{t: t, ctx: browser, shots: t.ArtifactDir()}
	const shownJS = `({figures: Object.fromEntries([...document.querySelectorAll("[data-figure]")].map(e => [e.dataset.figure, e.querySelector(".value").textContent])),
		yoy: document.querySelector("[data-change=yoy]").textContent, yoyTitle: document.querySelector("[data-change=yoy]").title,
		pop: document.querySelector("[data-change=pop]").textContent, popTitle: document.querySelector("[data-change=pop]").title,
		scope: document.querySelector("#scope").textContent})`
	type shown struct {
		Figures                             map[string]string
		Yoy, YoyTitle, Pop, PopTitle, Scope string
	}
	open := func(token, start, end string) shown {
		b.do(chromedp.Navigate(c.base+"/dashboard/?start="+start+"&end="+end+"&t="+token+"#token="+token),
			chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="true"]`)))
		return run(b, chromedp.Evaluate[shown](shownJS))
	}
	d := open("demo-dayun", "2026-10", "2026-11")
	b.shot("figures-dayun.png")
	for _, tc := range []struct{ what, got, want string }{
		{"cases", d.Figures["cases"], "3"},
		{"结案率", d.Figures["closed_rate"], "66.7%"},
		{"化解率", d.Figures["resolution_rate"], "50.0%"},
		{"同比", d.Yoy, "同比 +200.0%"},
		{"同比's months", d.YoyTitle, "与 2025-10 至 2025-11 相比"},
		{"环比", d.Pop, "环比 +50.0%"},
		{"环比's months", d.PopTitle, "与 2026-08 至 2026-09 相比"},
	} {
		if tc.got != tc.want {
			t.Errorf("大云镇's dashboard, %s: %q, want %q", tc.what, tc.got, tc.want)
		}
	}
	if !strings.Contains(d.Scope, "本单位") {
		t.Errorf("大云镇's dashboard does not say whose cases it counts: %q", d.Scope)
	}
	// Over the year 2026 both comparisons are 2025, which the records
	// cover from March only: no comparison, and the page says why.
	y := open("demo-bureau", "2026-01", "2026-12")
	b.shot("figures-year.png")
	if y.Yoy != "同比 —" || y.Pop != "环比 —" || !strings.Contains(y.YoyTitle, "早于数据起始月 2025-03") || !strings.Contains(y.PopTitle, "2025-01 至 2025-12") {
		t.Errorf("a year against partly covered records: %+v", y)
	}
}
