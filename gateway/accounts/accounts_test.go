package accounts

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/tongban/tongban/gateway/accounts/migrations"
	accountsv1 "github.com/tongban/tongban/proto/tongban/accounts/v1"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/devkit/pgtest"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/rpcerr"
	"github.com/tongban/tongban/services/platform/token"
)

var testDB *pgtest.Instance

func TestMain(m *testing.M) {
	testDB = pgtest.MustStart("accounts", migrations.Set)
	code := m.Run()
	testDB.MustClose()
	os.Exit(code)
}

type clock struct{ now time.Time }

func newService(t *testing.T) (*Service, *clock) {
	t.Helper()
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		t.Fatal(err)
	}
	keys := token.NewKey("t1", seed)
	signer, err := token.NewSigner(keys, "t1", 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := token.PublicKeys(keys)
	verifier, err := token.NewVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Now().Truncate(time.Second)}
	s := &Service{Pool: testDB.NewDatabase(t), Dir: directory.Demo(), Signer: signer, Verifier: verifier, Now: func() time.Time { return clk.now }}
	if err := s.Bootstrap(context.Background(), "admin:correct horse battery"); err != nil {
		t.Fatal(err)
	}
	return s, clk
}

func bearer(tok string) context.Context {
	return metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+tok))
}

func login(t *testing.T, s *Service, user, password string) (string, error) {
	t.Helper()
	r, err := s.CreateSession(context.Background(), &accountsv1.CreateSessionRequest{Username: user, Password: password})
	return r.GetAccessToken(), err
}

// TestPeople: the bootstrap administrator signs in and creates a clerk;
// the clerk's token names its office and role and is refused administration;
// bad input is refused field by field; a revoked or disabled account's
// tokens stop at the edge.
func TestPeople(t *testing.T) {
	s, clk := newService(t)
	admin, err := login(t, s, "admin", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAccount(bearer(admin), &accountsv1.CreateAccountRequest{Account: &accountsv1.Account{
		Name: "accounts/wang.fang", Kind: accountsv1.AccountKind_ACCOUNT_KIND_PERSON, Office: "offices/330421102", Role: "clerk", DisplayName: "王芳",
	}, Password: "dayun-clerk-2026"}); err != nil {
		t.Fatal(err)
	}
	clerk, err := login(t, s, "wang.fang", "dayun-clerk-2026")
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Verifier.Verify(clerk, clk.now)
	if err != nil || c.Office != "330421102" || c.Role != "clerk" || c.Account != "wang.fang" {
		t.Fatalf("clerk token: %+v %v", c, err)
	}
	if _, err := s.ListAccounts(bearer(clerk), &accountsv1.ListAccountsRequest{}); rpcerr.Code(err) != codes.PermissionDenied {
		t.Errorf("a clerk lists accounts: %v", err)
	}
	if _, err := s.ListAccounts(context.Background(), &accountsv1.ListAccountsRequest{}); rpcerr.Code(err) != codes.Unauthenticated {
		t.Errorf("anyone lists accounts: %v", err)
	}
	list, err := s.ListAccounts(bearer(admin), &accountsv1.ListAccountsRequest{})
	if err != nil || len(list.GetAccounts()) != 2 {
		t.Fatalf("list: %v %v", list, err)
	}
	for _, bad := range []*accountsv1.CreateAccountRequest{
		{Account: &accountsv1.Account{Name: "accounts/X", Kind: accountsv1.AccountKind_ACCOUNT_KIND_PERSON, Office: "offices/330421102", Role: "clerk"}, Password: "long enough password"},
		{Account: &accountsv1.Account{Name: "accounts/li", Kind: accountsv1.AccountKind_ACCOUNT_KIND_PERSON, Office: "offices/330421102", Role: "admin"}, Password: "long enough password"},
		{Account: &accountsv1.Account{Name: "accounts/li", Kind: accountsv1.AccountKind_ACCOUNT_KIND_PERSON, Office: "offices/nowhere", Role: "clerk"}, Password: "short"},
		{Account: &accountsv1.Account{Name: "accounts/sys", Kind: accountsv1.AccountKind_ACCOUNT_KIND_SERVICE, Office: "offices/330421102", Role: "system"}, Password: "a password for a system"},
		{Account: &accountsv1.Account{Name: "accounts/sys2", Kind: accountsv1.AccountKind_ACCOUNT_KIND_SERVICE, Office: "offices/330421102", Role: "service"}},
	} {
		if _, err := s.CreateAccount(bearer(admin), bad); rpcerr.Code(err) != codes.InvalidArgument {
			t.Errorf("%v: %v", bad, err)
		}
	}
	if _, err := s.CreateAccount(bearer(admin), &accountsv1.CreateAccountRequest{Account: &accountsv1.Account{
		Name: "accounts/wang.fang", Kind: accountsv1.AccountKind_ACCOUNT_KIND_PERSON, Office: "offices/330421103", Role: "clerk",
	}, Password: "another long password"}); rpcerr.Code(err) != codes.AlreadyExists {
		t.Errorf("a taken username: %v", err)
	}

	// At the edge: a valid token passes, a revoked one stops, a new one
	// (signed after the revocation) passes again; a disabled account stops.
	edge := func(tok string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/v1/cases", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }),
			func(w http.ResponseWriter, _ *http.Request, err error) { w.WriteHeader(int(rpcerr.Code(err)) + 400) }).ServeHTTP(rec, req)
		return rec.Code
	}
	if got := edge(clerk); got != 200 {
		t.Errorf("valid token at the edge: %d", got)
	}
	if _, err := s.RevokeSessions(bearer(clerk), &accountsv1.RevokeSessionsRequest{Name: "accounts/wang.fang"}); err != nil {
		t.Fatal(err)
	}
	if got := edge(clerk); got != 400+int(codes.Unauthenticated) {
		t.Errorf("revoked token at the edge: %d", got)
	}
	clk.now = clk.now.Add(2 * time.Second)
	again, err := login(t, s, "wang.fang", "dayun-clerk-2026")
	if err != nil || edge(again) != 200 {
		t.Errorf("signing in after a revocation: %v", err)
	}
	if _, err := s.DisableAccount(bearer(admin), &accountsv1.DisableAccountRequest{Name: "accounts/wang.fang"}); err != nil {
		t.Fatal(err)
	}
	if got := edge(again); got != 400+int(codes.Unauthenticated) {
		t.Errorf("a disabled account's token: %d", got)
	}
	if _, err := login(t, s, "wang.fang", "dayun-clerk-2026"); rpcerr.Code(err) != codes.Unauthenticated {
		t.Errorf("a disabled account signs in: %v", err)
	}
	if got := edge("not.a.token"); got != 400+int(codes.Unauthenticated) {
		t.Errorf("a forged token at the edge: %d", got)
	}
}

// TestAccountsAudited: every change of accounts and keys is in the
// gateway's audit log, naming the administrator, and the chain verifies.
func TestAccountsAudited(t *testing.T) {
	s, _ := newService(t)
	admin, err := login(t, s, "admin", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAccount(bearer(admin), &accountsv1.CreateAccountRequest{Account: &accountsv1.Account{
		Name: "accounts/sys", Kind: accountsv1.AccountKind_ACCOUNT_KIND_SERVICE, Office: "offices/330421102", Role: "system",
	}}); err != nil {
		t.Fatal(err)
	}
	k, err := s.CreateApiKey(bearer(admin), &accountsv1.CreateApiKeyRequest{Parent: "accounts/sys"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeApiKey(bearer(admin), &accountsv1.RevokeApiKeyRequest{Name: k.GetName()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DisableAccount(bearer(admin), &accountsv1.DisableAccountRequest{Name: "accounts/sys"}); err != nil {
		t.Fatal(err)
	}
	entries, err := audit.List(context.Background(), s.Pool, audit.Filter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, strings.TrimSpace(e.Action+" "+e.Role+" "+e.Account))
	}
	want := []string{"account.disable admin admin", "api_key.revoke admin admin", "api_key.create admin admin", "account.create admin admin", "account.create bootstrap"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("audit log: %q, want %q", got, want)
	}
	if strings.Contains(fmt.Sprint(entries), strings.SplitN(k.GetKey(), "_", 3)[2]) {
		t.Error("the audit log holds the key's secret")
	}
	if _, err := audit.Verify(context.Background(), s.Pool); err != nil {
		t.Error(err)
	}
}

// TestThrottle: five wrong passwords lock the username for fifteen
// minutes, even for the right password; unknown usernames fail alike.
func TestThrottle(t *testing.T) {
	s, clk := newService(t)
	for range 5 {
		if _, err := login(t, s, "admin", "wrong password!"); rpcerr.Code(err) != codes.Unauthenticated {
			t.Fatalf("a wrong password: %v", err)
		}
	}
	if _, err := login(t, s, "admin", "correct horse battery"); rpcerr.Code(err) != codes.ResourceExhausted {
		t.Fatalf("locked: %v", err)
	}
	clk.now = clk.now.Add(16 * time.Minute)
	if _, err := login(t, s, "admin", "correct horse battery"); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
	_, errUnknown := login(t, s, "nobody", "whatever password")
	_, errWrong := login(t, s, "admin", "whatever password")
	if rpcerr.Status(errUnknown).Message() != rpcerr.Status(errWrong).Message() {
		t.Errorf("unknown user %v vs wrong password %v", errUnknown, errWrong)
	}
}

// TestApiKeys: a service account's key is swapped at the edge for a token
// of its account; a wrong secret or a revoked key is refused; only a hash
// is stored.
func TestApiKeys(t *testing.T) {
	s, _ := newService(t)
	admin, err := login(t, s, "admin", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAccount(bearer(admin), &accountsv1.CreateAccountRequest{Account: &accountsv1.Account{
		Name: "accounts/dayun-system", Kind: accountsv1.AccountKind_ACCOUNT_KIND_SERVICE, Office: "offices/330421102", Role: "system",
	}}); err != nil {
		t.Fatal(err)
	}
	k, err := s.CreateApiKey(bearer(admin), &accountsv1.CreateApiKeyRequest{Parent: "accounts/dayun-system"})
	if err != nil || !strings.HasPrefix(k.GetKey(), "tbk_") {
		t.Fatalf("key: %v %v", k, err)
	}
	var stored int
	if err := s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM api_keys WHERE position(convert_to($1, 'UTF8') in secret_hash) > 0`,
		strings.SplitN(k.GetKey(), "_", 3)[2]).Scan(&stored); err != nil || stored != 0 {
		t.Errorf("the secret is stored: %d %v", stored, err)
	}
	swap := func(key string) (string, int) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/v1/cases", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		var seen string
		s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.Header.Get("Authorization"); w.WriteHeader(200) }),
			func(w http.ResponseWriter, _ *http.Request, err error) { w.WriteHeader(int(rpcerr.Code(err)) + 400) }).ServeHTTP(rec, req)
		return strings.TrimPrefix(seen, "Bearer "), rec.Code
	}
	tok, code := swap(k.GetKey())
	c, err := s.Verifier.Verify(tok, s.now())
	if code != 200 || err != nil || c.Account != "dayun-system" || c.Office != "330421102" || c.Role != "system" {
		t.Fatalf("swapped: %d %+v %v", code, c, err)
	}
	if _, code := swap(k.GetKey() + "x"); code != 400+int(codes.Unauthenticated) {
		t.Errorf("a wrong secret: %d", code)
	}
	if _, err := s.CreateApiKey(bearer(admin), &accountsv1.CreateApiKeyRequest{Parent: "accounts/admin"}); rpcerr.Code(err) != codes.FailedPrecondition {
		t.Errorf("a key for a person: %v", err)
	}
	if _, err := s.RevokeApiKey(bearer(admin), &accountsv1.RevokeApiKeyRequest{Name: k.GetName()}); err != nil {
		t.Fatal(err)
	}
	if _, code := swap(k.GetKey()); code != 400+int(codes.Unauthenticated) {
		t.Errorf("a revoked key: %d", code)
	}
}

// TestPasswordHash: argon2id PHC strings, salted, checked in constant time.
func TestPasswordHash(t *testing.T) {
	a, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := HashPassword("correct horse battery")
	if a == b || !strings.HasPrefix(a, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hashes %q %q", a, b)
	}
	if !CheckPassword(a, "correct horse battery") || CheckPassword(a, "correct horse batter") || CheckPassword("garbage", "x") {
		t.Error("CheckPassword")
	}
}
