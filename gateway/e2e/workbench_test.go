package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tongban/tongban/services/devkit/stack"
)

// TestWorkbench walks a case through the clerk workbench in Debian's
// Chromium, driven by playwright-core (web/workbench/e2e/walk.mjs): a
// township clerk registers it (the API's field errors beside the fields,
// the repeat warning while typing the ID number, the receipt with its query
// code) and refers it up, the bureau routes it from its inbox, the
// bureau also puts it in a leader's charge (包案), the department signs for,
// accepts and answers it, the township sees the answer and the attachment
// (also on a tablet's screen), and the leader finds the case among those he
// leads, and the petitioner looks it up with the receipt's query code,
// without signing in. Then the API confirms what the browser did. Screenshots:
// out/test-artifacts/…/workbench-*.png.
func TestWorkbench(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed for the workbench's browser test (Debian: apt-get install nodejs npm)")
	}
	root, err := stack.Root()
	if err != nil {
		t.Fatal(err)
	}
	wb := filepath.Join(root, "web", "workbench")
	if _, err := os.Stat(filepath.Join(wb, "node_modules", "playwright-core")); err != nil {
		t.Fatal("web/workbench has no node_modules: run `make web-deps` (make test does)")
	}
	s, _, _ := startStackEnv(t, "TONGBAN_BOOTSTRAP_ADMIN=admin:e2e-admin-password")
	c := &client{t: t, base: s.GatewayURL()}
	admin := c.do("POST", "/v1/sessions", "", map[string]any{"username": "admin", "password": "e2e-admin-password"}).must(t, 200, "sign in").str("accessToken")
	const password = "workbench-e2e-2026"
	for _, a := range []struct{ user, office, role, name string }{
		{"dayun.clerk", "330421102", "clerk", "王芳"},
		{"xfj.clerk", "330421.xfj", "clerk", "李强"},
		{"zjj.handler", "330421.zjj", "handler", "赵敏"},
		{"zhang.wei", "330421.xfj", "leader", "张伟"},
	} {
		c.do("POST", "/v1/accounts", admin, map[string]any{"account": map[string]any{"name": "accounts/" + a.user, "kind": "ACCOUNT_KIND_PERSON",
			"office": "offices/" + a.office, "role": a.role, "displayName": a.name}, "password": password}).must(t, 201, "account "+a.user)
	}
	// The petitioner came before, about another matter: the form warns.
	c.do("POST", "/v1/cases", "demo-dayun", map[string]any{"channel": "CHANNEL_PHONE", "township": "330421102", "caseClass": "CASE_CLASS_SUGGESTION",
		"subject": "建议增设公交站点", "content": "建议在东云村口增设公交站点。",
		"petitioners": []any{map[string]any{"displayName": "王五", "idNumber": idNumber}}}).must(t, 201, "an earlier case")

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "e2e/walk.mjs")
	cmd.Dir = wb
	cmd.Env = append(os.Environ(), "BASE_URL="+s.GatewayURL(), "PASSWORD="+password, "ID_NUMBER="+idNumber,
		"OUT_DIR="+t.ArtifactDir(), "CHROMIUM="+stack.Chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the browser walk failed: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	number := regexp.MustCompile(`(?m)^CASE (\S+)$`).FindStringSubmatch(stdout.String())
	answer := regexp.MustCompile(`(?m)^ANSWER (.+)$`).FindStringSubmatch(stdout.String())
	if number == nil || answer == nil {
		t.Fatalf("the walk did not report its case and answer:\n%s", stdout.String())
	}
	// What the browser did, as the API has it.
	h := c.do("GET", "/v1/cases/"+number[1]+"/history", "demo-bureau", nil).must(t, 200, "history")
	if h.str("case", "state") != "CASE_STATE_ANSWERED" || h.str("case", "holderOffice") != "offices/330421.zjj" ||
		h.str("case", "answer", "text") != answer[1] || h.str("case", "answer", "outcome") != "ANSWER_OUTCOME_SUPPORT" {
		t.Errorf("after the walk: %s", h.raw)
	}
	reg := c.do("GET", "/v1/cases/"+number[1], "demo-dayun", nil).must(t, 200, "registration")
	if reg.str("subject") != "村道路灯损坏三个月未修" || reg.petitioner("idNumber") != idNumber {
		t.Errorf("registration: %s", reg.raw)
	}
	if h.str("case", "lead", "leaderAccount") != "accounts/zhang.wei" {
		t.Errorf("the 包案 made in the browser: %s", h.raw)
	}
	files := c.do("GET", "/v1/cases/"+number[1]+"/attachments", "demo-dayun", nil).must(t, 200, "attachments")
	if !strings.Contains(files.raw, "现场照片说明.txt") {
		t.Errorf("the attachment uploaded in the browser: %s", files.raw)
	}
	for _, shot := range []string{"1-register-errors", "3-receipt", "5-routed-and-led", "8-township-sees-answer", "9-tablet-case", "10-leader-led-case", "11-petitioner-progress"} {
		if st, err := os.Stat(filepath.Join(t.ArtifactDir(), "workbench-"+shot+".png")); err != nil || st.Size() < 10_000 {
			t.Errorf("screenshot %s: %v", shot, err)
		}
	}
	// The workbench's page carries the same-origin policy.
	resp := c.do("GET", "/workbench/", "", nil)
	if resp.status != 200 || !strings.Contains(resp.raw, `<div id="root">`) {
		t.Errorf("/workbench/: %d %.200s", resp.status, resp.raw)
	}
}
