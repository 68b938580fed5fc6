package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// demoAccount is a person of the demo county who signs in to the workbench.
type demoAccount struct{ user, office, role, name, what string }

var demoAccounts = []demoAccount{
	{"dayun.clerk", "330421102", "clerk", "王芳", "大云镇 clerk: registers, refers up"},
	{"xitang.clerk", "330421103", "clerk", "陈静", "西塘镇 clerk"},
	{"xfj.clerk", "330421.xfj", "clerk", "李强", "县信访局 clerk: routes, assigns down, closes"},
	{"zjj.handler", "330421.zjj", "handler", "赵敏", "住建局 handler: signs for, accepts, answers"},
	{"rsj.handler", "330421.rsj", "handler", "孙磊", "人社局 handler"},
	{"zhang.wei", "330421.xfj", "leader", "张伟", "leader: the cases he leads (包案), receptions, dashboard"},
}

// demoPassword returns the demo accounts' password from the secrets, and
// the line to add when there is none yet.
func demoPassword(secrets []string) (string, string) {
	for _, l := range secrets {
		if p, ok := strings.CutPrefix(l, "TONGBAN_DEMO_PASSWORD="); ok {
			return p, ""
		}
	}
	p := "demo-" + strings.ToLower(rand.Text()[:10])
	return p, "TONGBAN_DEMO_PASSWORD=" + p
}

// createDemoAccounts signs in as the bootstrap administrator and creates
// the demo accounts the gateway lacks (a second make run finds them).
func createDemoAccounts(ctx context.Context, gateway, admin, adminPassword, password string) error {
	call := func(path, token string, body any) (int, map[string]any, error) {
		b, _ := json.Marshal(body)
		req, err := http.NewRequestWithContext(ctx, "POST", gateway+path, bytes.NewReader(b))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out, nil
	}
	var token string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		code, out, err := call("/v1/sessions", "", map[string]any{"username": admin, "password": adminPassword})
		if err == nil && code == 200 {
			token, _ = out["accessToken"].(string)
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sign in as %s: HTTP %d %v", admin, code, err)
		}
	}
	for _, a := range demoAccounts {
		code, out, err := call("/v1/accounts", token, map[string]any{"account": map[string]any{
			"name": "accounts/" + a.user, "kind": "ACCOUNT_KIND_PERSON", "office": "offices/" + a.office, "role": a.role, "displayName": a.name,
		}, "password": password})
		if err != nil {
			return err
		}
		if code != 201 && code != 409 {
			return fmt.Errorf("create %s: HTTP %d %v", a.user, code, out["message"])
		}
	}
	return nil
}
