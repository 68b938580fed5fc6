package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestAccounts signs people in through the gateway and has the services
// verify their tokens: the bootstrap administrator creates a township clerk
// and a township system's account with an API key; the clerk registers a
// case as 大云镇; the system registers one with its key; revoking the
// clerk's sessions and the system's key stops both at the edge; a clerk
// cannot administer accounts; failed sign-ins lock the username.
func TestAccounts(t *testing.T) {
	s, _, _ := startStackEnv(t, "TONGBAN_BOOTSTRAP_ADMIN=admin:e2e-admin-password")
	c := &client{t: t, base: s.GatewayURL()}
	signIn := func(user, password string) string {
		t.Helper()
		r := c.do("POST", "/v1/sessions", "", map[string]any{"username": user, "password": password}).must(t, 200, "sign in "+user)
		return r.str("accessToken")
	}
	admin := signIn("admin", "e2e-admin-password")
	c.do("POST", "/v1/accounts", admin, map[string]any{"account": map[string]any{"name": "accounts/wang.fang", "kind": "ACCOUNT_KIND_PERSON",
		"office": "offices/330421102", "role": "clerk", "displayName": "王芳"}, "password": "dayun-clerk-2026"}).must(t, 201, "create a clerk")
	c.do("POST", "/v1/accounts", admin, map[string]any{"account": map[string]any{"name": "accounts/dayun-system", "kind": "ACCOUNT_KIND_SERVICE",
		"office": "offices/330421102", "role": "system"}}).must(t, 201, "create a system account")
	key := c.do("POST", "/v1/accounts/dayun-system/apiKeys", admin, map[string]any{}).must(t, 201, "an API key")
	clerk := signIn("wang.fang", "dayun-clerk-2026")

	newCase := map[string]any{"channel": "CHANNEL_VISIT", "township": "330421102", "caseClass": "CASE_CLASS_CLAIM",
		"subject": "路灯损坏", "content": "村口路灯损坏一个月。", "petitioners": []any{map[string]any{"displayName": "王五"}}}
	made := c.do("POST", "/v1/cases", clerk, newCase).must(t, 201, "the clerk registers")
	if made.str("registeredBy") != "offices/330421102" {
		t.Errorf("registered by %q", made.str("registeredBy"))
	}
	c.do("GET", "/v1/cases/"+made.str("caseNumber"), clerk, nil).must(t, 200, "the clerk reads it")
	bySystem := c.do("POST", "/v1/cases", key.str("key"), newCase).must(t, 201, "the system registers with its key")
	if bySystem.str("registeredBy") != "offices/330421102" {
		t.Errorf("the system registered for %q", bySystem.str("registeredBy"))
	}
	c.do("GET", "/v1/accounts", clerk, nil).must(t, 403, "a clerk lists accounts")
	c.do("GET", "/v1/events", key.str("key"), nil).must(t, 200, "the system follows its township's events")

	// Each log through the gateway: the accounts' changes name the
	// administrator; a clerk of a township may not read them.
	logs := c.do("GET", "/v1/services/gateway/auditEntries", admin, nil).must(t, 200, "the gateway's audit log")
	if !strings.Contains(logs.raw, `"account.create"`) || !strings.Contains(logs.raw, `"account":"accounts/admin"`) || !strings.Contains(logs.raw, `"api_key.create"`) {
		t.Errorf("the gateway's audit log: %s", logs.raw)
	}
	c.do("GET", "/v1/services/gateway/auditEntries", clerk, nil).must(t, 403, "a township clerk reads the gateway's log")
	c.do("GET", "/v1/services/intake/auditEntries", admin, nil).must(t, 200, "intake's log")
	c.do("GET", "/v1/services/nowhere/auditEntries", admin, nil).must(t, 404, "an unknown log")

	// Offices administered through the API reach every process: a new
	// department gets an account (the gateway follows the directory), a case
	// is routed to it (assignment), its handler signs for it and reads the
	// registration (intake follows too); once closed, it takes no new
	// accounts.
	num := made.str("caseNumber")
	yjj := map[string]any{"displayName": "嘉善县应急管理局", "kind": "OFFICE_KIND_DEPARTMENT"}
	c.do("POST", "/v1/offices?officeId=330421.yjj", clerk, yjj).must(t, 403, "a clerk creates an office")
	c.do("POST", "/v1/offices?officeId=330421.yjj", admin, map[string]any{"kind": "OFFICE_KIND_DEPARTMENT"}).must(t, 400, "an office without a name")
	office := c.do("POST", "/v1/offices?officeId=330421.yjj", admin, yjj).must(t, 201, "create a department")
	if office.str("name") != "offices/330421.yjj" || office.str("etag") == "" {
		t.Errorf("created office: %s", office.raw)
	}
	handlerAccount := func(name string) map[string]any {
		return map[string]any{"account": map[string]any{"name": "accounts/" + name, "kind": "ACCOUNT_KIND_PERSON",
			"office": "offices/330421.yjj", "role": "handler", "displayName": "李明"}, "password": "yjj-handler-2026"}
	}
	c.eventually("the gateway knows the new department", func() string {
		if r := c.do("POST", "/v1/accounts", admin, handlerAccount("li.ming")); r.status != 201 {
			return r.raw
		}
		return ""
	})
	handler := signIn("li.ming", "yjj-handler-2026")
	c.eventually("the case reaches assignment", func() string {
		if r := c.do("POST", "/v1/cases/"+num+":referUp", clerk, map[string]any{"reason": "需县应急管理局处理", "requestId": "yjj-up"}); r.status != 200 {
			return r.raw
		}
		return ""
	})
	c.do("POST", "/v1/cases/"+num+":route", "demo-bureau", map[string]any{"toOffice": "offices/330421.yjj", "reason": "按职责转送"}).must(t, 200, "route to the new department")
	c.do("POST", "/v1/cases/"+num+":signFor", handler, map[string]any{}).must(t, 200, "the new department signs for it")
	c.eventually("intake knows the new department", func() string {
		if r := c.do("GET", "/v1/cases/"+num, handler, nil); r.status != 200 {
			return r.raw
		}
		return ""
	})
	if list := c.do("GET", "/v1/offices", clerk, nil).must(t, 200, "list offices"); !strings.Contains(list.raw, `"offices/330421.yjj"`) {
		t.Errorf("offices: %s", list.raw)
	}
	c.do("PATCH", "/v1/offices/330421.yjj?updateMask=closed", admin, map[string]any{"closed": true, "etag": `"1"`}).must(t, 409, "close with a stale etag")
	c.do("PATCH", "/v1/offices/330421.yjj?updateMask=closed", admin, map[string]any{"closed": true}).must(t, 200, "close the department")
	c.eventually("the gateway knows it is closed", func() string {
		if r := c.do("POST", "/v1/accounts", admin, handlerAccount("zhao.lei")); r.status != 400 || !strings.Contains(r.raw, "closed") {
			return r.raw
		}
		return ""
	})
	if logs := c.do("GET", "/v1/services/assignment/auditEntries", admin, nil).must(t, 200, "assignment's log"); !strings.Contains(logs.raw, `"directory.change"`) || !strings.Contains(logs.raw, `"account":"accounts/admin"`) {
		t.Errorf("assignment's audit log lacks the directory's changes: %s", logs.raw)
	}

	// Revocations stop at the edge.
	c.do("POST", "/v1/accounts/wang.fang:revokeSessions", admin, map[string]any{}).must(t, 200, "revoke the clerk's sessions")
	c.do("GET", "/v1/cases/"+made.str("caseNumber"), clerk, nil).must(t, 401, "a revoked token")
	c.do("POST", "/v1/"+key.str("name")+":revoke", admin, map[string]any{}).must(t, 200, "revoke the key")
	c.eventually("the revoked key stops working", func() string {
		if r := c.do("POST", "/v1/cases", key.str("key"), newCase); r.status != 401 {
			return r.raw
		}
		return ""
	})
	time.Sleep(1100 * time.Millisecond) // tokens are stamped in whole seconds
	c.do("GET", "/v1/cases/"+made.str("caseNumber"), signIn("wang.fang", "dayun-clerk-2026"), nil).must(t, 200, "a new sign-in")

	// Throttling, and forged credentials.
	for range 5 {
		c.do("POST", "/v1/sessions", "", map[string]any{"username": "wang.fang", "password": "guess"}).must(t, 401, "a wrong password")
	}
	c.do("POST", "/v1/sessions", "", map[string]any{"username": "wang.fang", "password": "dayun-clerk-2026"}).must(t, 429, "locked")
	forged := "eyJhbGciOiJFZERTQSIsImtpZCI6InQxIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4Iiwib2ZmaWNlIjoiMzMwNDIxLnhmaiIsInJvbGUiOiJhZG1pbiIsImlzcyI6InRvbmdiYW4ifQ.AAAA"
	c.do("GET", "/v1/counties/330421/summary", forged, nil).must(t, 401, "a forged token")
}
