// Package accounts is the gateway's account service: people sign in with a
// password (argon2id) and get a short-lived access token (token package);
// outside systems call with API keys, which the gateway swaps for such a
// token before a request reaches a service; the bureau's administrators
// create and disable accounts, revoke sessions and keys. Repeated failed
// sign-ins lock a username for a while. The services verify the tokens
// with the public keys alone.
package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	accountsv1 "github.com/tongban/tongban/proto/tongban/accounts/v1"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/token"
)

// Roles an account may have. An outside system's account has the role
// "system"; "service" is reserved for Tongban's own services (it reads the
// internal feeds) and is never an account's.
var roles = map[string]bool{"clerk": true, "handler": true, "leader": true, "admin": true, "system": true}

// Service implements AccountService and the gateway's credential check.
type Service struct {
	accountsv1.UnimplementedAccountServiceServer
	Pool     *pgxpool.Pool
	Dir      *directory.Directory
	Signer   *token.Signer
	Verifier *token.Verifier
	// MaxFailures failed sign-ins within LockFor lock the username for
	// LockFor (defaults 5 and 15 minutes).
	MaxFailures int
	LockFor     time.Duration
	// Now is the clock (injectable for tests).
	Now func() time.Time

	mu       sync.Mutex
	statuses map[string]accountStatus // username → status, briefly cached
	keys     map[string]keyToken      // API key id → the token it was swapped for
	// revokedKeys caches whether an API key was revoked, for the tokens
	// swapped for it.
	revokedKeys map[string]keyStatus
}

type accountStatus struct {
	disabled   bool
	validAfter time.Time
	office     string
	role       string
	fetched    time.Time
}

type keyToken struct {
	token  string
	expire time.Time
	hash   []byte
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) limits() (int, time.Duration) {
	n, d := s.MaxFailures, s.LockFor
	if n == 0 {
		n = 5
	}
	if d == 0 {
		d = 15 * time.Minute
	}
	return n, d
}

// dummy is checked against when a username does not exist, so a failed
// sign-in takes as long either way.
var dummy, _ = HashPassword("no such account")

// CreateSession signs a person in.
func (s *Service) CreateSession(ctx context.Context, req *accountsv1.CreateSessionRequest) (*accountsv1.CreateSessionResponse, error) {
	var v fault.Violations
	if req.GetUsername() == "" {
		v.Add("username", "is required")
	}
	if req.GetPassword() == "" {
		v.Add("password", "is required")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	var locked *time.Time
	if err := s.Pool.QueryRow(ctx, `SELECT locked_until FROM login_failures WHERE username = $1`, req.GetUsername()).Scan(&locked); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	if locked != nil && now.Before(*locked) {
		return nil, fault.New(fault.ResourceExhausted, "LOGIN_LOCKED",
			"too many failed sign-ins: try again after "+locked.UTC().Format(time.RFC3339), "retry_after", locked.UTC().Format(time.RFC3339))
	}
	a, hash, err := s.account(ctx, req.GetUsername())
	ok := err == nil && hash != "" && !a.GetDisabled() && a.GetKind() == accountsv1.AccountKind_ACCOUNT_KIND_PERSON
	if !ok {
		CheckPassword(dummy, req.GetPassword())
	} else {
		ok = CheckPassword(hash, req.GetPassword())
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	if !ok {
		if err := s.fail(ctx, req.GetUsername(), now); err != nil {
			return nil, err
		}
		return nil, fault.New(fault.Unauthenticated, "LOGIN_FAILED", "wrong username or password")
	}
	if _, err := s.Pool.Exec(ctx, `DELETE FROM login_failures WHERE username = $1`, req.GetUsername()); err != nil {
		return nil, err
	}
	office, _ := names.OfficeID(a.GetOffice())
	tok, exp, err := s.Signer.Sign(token.Claims{Account: req.GetUsername(), Office: office, Role: a.GetRole()}, now)
	if err != nil {
		return nil, fault.Hide(err)
	}
	return &accountsv1.CreateSessionResponse{AccessToken: tok, ExpireTime: timestamppb.New(exp), Account: a}, nil
}

// fail counts a failed sign-in and locks the username at the limit.
func (s *Service) fail(ctx context.Context, user string, now time.Time) error {
	max, lockFor := s.limits()
	_, err := s.Pool.Exec(ctx, `INSERT INTO login_failures AS f (username, failures, first_failure) VALUES ($1, 1, $2)
		ON CONFLICT (username) DO UPDATE SET
			failures = CASE WHEN f.first_failure < $2 - $3::interval THEN 1 ELSE f.failures + 1 END,
			first_failure = CASE WHEN f.first_failure < $2 - $3::interval THEN $2 ELSE f.first_failure END,
			locked_until = CASE WHEN f.first_failure >= $2 - $3::interval AND f.failures + 1 >= $4 THEN $2 + $3::interval END`,
		user, now, lockFor.String(), max)
	return err
}

const accountColumns = `username, kind, office, role, display_name, disabled, create_time, coalesce(password_hash, '')`

func scanAccount(r pgx.Row) (*accountsv1.Account, string, error) {
	var user, office, hash string
	var kind int16
	var created time.Time
	a := &accountsv1.Account{}
	if err := r.Scan(&user, &kind, &office, &a.Role, &a.DisplayName, &a.Disabled, &created, &hash); err != nil {
		return nil, "", err
	}
	a.Name, a.Kind, a.Office, a.CreateTime = "accounts/"+user, accountsv1.AccountKind(kind), names.Office(office), timestamppb.New(created)
	return a, hash, nil
}

func (s *Service) account(ctx context.Context, user string) (*accountsv1.Account, string, error) {
	return scanAccount(s.Pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE username = $1`, user))
}

// caller is the signed-in account of a call (from its access token).
func (s *Service) caller(ctx context.Context) (token.Claims, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	tok, _ := strings.CutPrefix(strings.Join(vals, ""), "Bearer ")
	if tok == "" {
		return token.Claims{}, fault.New(fault.Unauthenticated, "TOKEN_MISSING", "sign in first: send \"Authorization: Bearer <access token>\"")
	}
	c, err := s.Verifier.Verify(tok, s.now())
	if err != nil {
		return token.Claims{}, fault.New(fault.Unauthenticated, "TOKEN_INVALID", "the access token is not valid: sign in again")
	}
	return c, nil
}

// admin checks that the call comes from a bureau administrator.
func (s *Service) admin(ctx context.Context) error {
	c, err := s.caller(ctx)
	if err != nil {
		return err
	}
	if o, ok := s.Dir.Office(c.Office); !ok || !policy.May(auth.Caller{Office: o, Role: c.Role}, policy.Administer) {
		return fault.New(fault.PermissionDenied, "ADMIN_ONLY", "accounts are managed by the petition bureau's administrators")
	}
	return nil
}

// CreateAccount creates an account.
func (s *Service) CreateAccount(ctx context.Context, req *accountsv1.CreateAccountRequest) (*accountsv1.CreateAccountResponse, error) {
	if err := s.admin(ctx); err != nil {
		return nil, err
	}
	if _, err := s.Create(ctx, req.GetAccount(), req.GetPassword()); err != nil {
		return nil, err
	}
	a, _, err := s.account(ctx, strings.TrimPrefix(req.GetAccount().GetName(), "accounts/"))
	if err != nil {
		return nil, err
	}
	return &accountsv1.CreateAccountResponse{Account: a}, nil
}

// Create validates and stores an account (also the bootstrap
// administrator); it reports false when the username was taken.
func (s *Service) Create(ctx context.Context, a *accountsv1.Account, password string) (bool, error) {
	var v fault.Violations
	user, ok := strings.CutPrefix(a.GetName(), "accounts/")
	if !ok || !names.Username(user) {
		v.Add("account.name", `must be "accounts/{username}", 3–32 lower-case letters, digits, dots or dashes`)
	}
	office, _ := names.OfficeID(a.GetOffice())
	o, known := s.Dir.Office(office)
	switch {
	case !known:
		v.Add("account.office", `is not an office of the county ("offices/{id}")`)
	case o.Closed:
		v.Add("account.office", o.Name+" is closed")
	}
	switch {
	case !roles[a.GetRole()]:
		v.Add("account.role", "must be one of clerk, handler, leader, admin, system")
	case a.GetRole() == "admin" && o.Kind != directory.Bureau:
		v.Add("account.role", "admin is a role of the petition bureau only")
	}
	var hash any
	switch a.GetKind() {
	case accountsv1.AccountKind_ACCOUNT_KIND_PERSON:
		if a.GetRole() == "system" {
			v.Add("account.role", "a person is not a system")
		}
		if len([]rune(password)) < 12 {
			v.Add("password", "must be at least 12 characters")
		} else {
			h, err := HashPassword(password)
			if err != nil {
				return false, fault.Hide(err)
			}
			hash = h
		}
	case accountsv1.AccountKind_ACCOUNT_KIND_SERVICE:
		if a.GetRole() != "system" {
			v.Add("account.role", "a service account has the role system")
		}
		if password != "" {
			v.Add("password", "a service account calls with API keys, not a password")
		}
	default:
		v.Add("account.kind", "must be ACCOUNT_KIND_PERSON or ACCOUNT_KIND_SERVICE")
	}
	if err := v.Err(); err != nil {
		return false, err
	}
	n, err := s.change(ctx, "account.create", user, "role="+a.GetRole()+" office="+office, `INSERT INTO accounts (username, kind, office, role, display_name, password_hash)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, user, int16(a.GetKind()), office, a.GetRole(), a.GetDisplayName(), hash)
	if err != nil {
		return false, err
	}
	if n == 0 {
		return false, fault.New(fault.AlreadyExists, "ACCOUNT_EXISTS", "the username "+user+" is taken", "account.name", a.GetName())
	}
	return true, nil
}

// ListAccounts lists the accounts.
func (s *Service) ListAccounts(ctx context.Context, req *accountsv1.ListAccountsRequest) (*accountsv1.ListAccountsResponse, error) {
	if err := s.admin(ctx); err != nil {
		return nil, err
	}
	office, _ := names.OfficeID(req.GetOffice())
	out := &accountsv1.ListAccountsResponse{}
	rows, err := s.Pool.Query(ctx, `SELECT `+accountColumns+` FROM accounts WHERE $1 = '' OR office = $1 ORDER BY username`, office)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		a, _, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out.Accounts = append(out.Accounts, a)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// revoke ends the account's current tokens: those issued in this second or
// before (token times are whole seconds).
func (s *Service) revoke(ctx context.Context, user string, disable bool) error {
	action := "account.revoke_sessions"
	if disable {
		action = "account.disable"
	}
	n, err := s.change(ctx, action, user, "", `UPDATE accounts SET tokens_valid_after = date_trunc('second', $2::timestamptz) + interval '1 second',
		disabled = disabled OR $3 WHERE username = $1`, user, s.now(), disable)
	if err != nil {
		return err
	}
	if n == 0 {
		return fault.New(fault.NotFound, "ACCOUNT_NOT_FOUND", "no such account: "+user)
	}
	s.mu.Lock()
	delete(s.statuses, user)
	s.mu.Unlock()
	return nil
}

// DisableAccount disables an account.
func (s *Service) DisableAccount(ctx context.Context, req *accountsv1.DisableAccountRequest) (*accountsv1.DisableAccountResponse, error) {
	if err := s.admin(ctx); err != nil {
		return nil, err
	}
	user := strings.TrimPrefix(req.GetName(), "accounts/")
	if err := s.revoke(ctx, user, true); err != nil {
		return nil, err
	}
	a, _, err := s.account(ctx, user)
	if err != nil {
		return nil, err
	}
	return &accountsv1.DisableAccountResponse{Account: a}, nil
}

// RevokeSessions revokes the account's tokens.
func (s *Service) RevokeSessions(ctx context.Context, req *accountsv1.RevokeSessionsRequest) (*accountsv1.RevokeSessionsResponse, error) {
	user := strings.TrimPrefix(req.GetName(), "accounts/")
	c, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if c.Account != user {
		if err := s.admin(ctx); err != nil {
			return nil, err
		}
	}
	if err := s.revoke(ctx, user, false); err != nil {
		return nil, err
	}
	return &accountsv1.RevokeSessionsResponse{}, nil
}

// CreateApiKey makes an API key for a service account.
func (s *Service) CreateApiKey(ctx context.Context, req *accountsv1.CreateApiKeyRequest) (*accountsv1.CreateApiKeyResponse, error) {
	if err := s.admin(ctx); err != nil {
		return nil, err
	}
	user := strings.TrimPrefix(req.GetParent(), "accounts/")
	a, _, err := s.account(ctx, user)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fault.New(fault.NotFound, "ACCOUNT_NOT_FOUND", "no such account: "+req.GetParent())
	}
	if err != nil {
		return nil, err
	}
	if a.GetKind() != accountsv1.AccountKind_ACCOUNT_KIND_SERVICE {
		return nil, fault.New(fault.FailedPrecondition, "NOT_A_SERVICE_ACCOUNT", "API keys are for service accounts; people sign in")
	}
	id, secret := make([]byte, 6), make([]byte, 24)
	if _, err := rand.Read(id); err != nil {
		return nil, fault.Hide(err)
	}
	if _, err := rand.Read(secret); err != nil {
		return nil, fault.Hide(err)
	}
	kid, sec := hex.EncodeToString(id), base64.RawURLEncoding.EncodeToString(secret)
	sum := sha256.Sum256([]byte(sec))
	if _, err := s.change(ctx, "api_key.create", user, "key="+kid, `INSERT INTO api_keys (id, username, secret_hash) VALUES ($1, $2, $3)`, kid, user, sum[:]); err != nil {
		return nil, err
	}
	return &accountsv1.CreateApiKeyResponse{Name: "accounts/" + user + "/apiKeys/" + kid, Key: keyPrefix + kid + "_" + sec}, nil
}

// RevokeApiKey revokes an API key.
func (s *Service) RevokeApiKey(ctx context.Context, req *accountsv1.RevokeApiKeyRequest) (*accountsv1.RevokeApiKeyResponse, error) {
	if err := s.admin(ctx); err != nil {
		return nil, err
	}
	parts := strings.Split(req.GetName(), "/")
	if len(parts) != 4 || parts[0] != "accounts" || parts[2] != "apiKeys" {
		var v fault.Violations
		v.Add("name", `must be "accounts/{username}/apiKeys/{id}"`)
		return nil, v.Err()
	}
	n, err := s.change(ctx, "api_key.revoke", parts[1], "key="+parts[3], `UPDATE api_keys SET revoke_time = coalesce(revoke_time, $3) WHERE id = $2 AND username = $1`, parts[1], parts[3], s.now())
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fault.New(fault.NotFound, "API_KEY_NOT_FOUND", "no such API key: "+req.GetName())
	}
	s.mu.Lock()
	delete(s.keys, parts[3])
	delete(s.revokedKeys, parts[3])
	s.mu.Unlock()
	return &accountsv1.RevokeApiKeyResponse{}, nil
}

const keyPrefix = "tbk_"

// change runs one statement that changes accounts and records it in the
// audit log in the same transaction (who: the signed-in administrator, or
// the account itself; "bootstrap" at the first start). It returns the rows
// the statement touched; nothing is recorded when it touched none.
func (s *Service) change(ctx context.Context, action, subject, detail, sql string, args ...any) (int64, error) {
	e := audit.FromCall(ctx, action, "", "", detail+" account="+subject)
	if c, err := s.caller(ctx); err == nil {
		e.Office, e.Role, e.Account = c.Office, c.Role, c.Account
	} else {
		e.Office, e.Role = s.Dir.Bureau().ID, "bootstrap"
	}
	var n int64
	err := pgdb.InTx(ctx, s.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		n = tag.RowsAffected()
		return audit.Append(ctx, tx, e)
	})
	return n, err
}

// cacheFor is how long an account's status or a key's check is reused: a
// disabled account or a revoked key stops working within this time.
const cacheFor = 2 * time.Second

// Middleware checks credentials at the edge, before a request reaches a
// service: an access token must belong to an enabled account and not be
// revoked; an API key is swapped for an access token of its service
// account. Other tokens (the directory's static ones) pass on for the
// services to judge. fail writes a refusal the way the gateway writes
// errors.
func (s *Service) Middleware(next http.Handler, fail func(w http.ResponseWriter, r *http.Request, err error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case !ok:
		case strings.HasPrefix(tok, keyPrefix):
			access, err := s.swapKey(r.Context(), strings.TrimPrefix(tok, keyPrefix))
			if err != nil {
				fail(w, r, err)
				return
			}
			r.Header.Set("Authorization", "Bearer "+access)
		case token.Looks(tok):
			if err := s.checkToken(r.Context(), tok); err != nil {
				fail(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Service) status(ctx context.Context, user string) (accountStatus, error) {
	now := s.now()
	s.mu.Lock()
	st, ok := s.statuses[user]
	s.mu.Unlock()
	if ok && now.Sub(st.fetched) < cacheFor {
		return st, nil
	}
	err := s.Pool.QueryRow(ctx, `SELECT disabled, greatest(tokens_valid_after, 'epoch'), office, role FROM accounts WHERE username = $1`, user).
		Scan(&st.disabled, &st.validAfter, &st.office, &st.role)
	if errors.Is(err, pgx.ErrNoRows) {
		st = accountStatus{disabled: true}
	} else if err != nil {
		return accountStatus{}, err
	}
	st.fetched = now
	s.mu.Lock()
	if s.statuses == nil {
		s.statuses = map[string]accountStatus{}
	}
	s.statuses[user] = st
	s.mu.Unlock()
	return st, nil
}

func (s *Service) checkToken(ctx context.Context, tok string) error {
	c, err := s.Verifier.Verify(tok, s.now())
	if err != nil {
		return fault.New(fault.Unauthenticated, "TOKEN_INVALID", "the access token is not valid (expired, or not signed by Tongban): sign in again")
	}
	st, err := s.status(ctx, c.Account)
	if err != nil {
		return err
	}
	keyRevoked := false
	if c.APIKey != "" {
		if keyRevoked, err = s.keyRevoked(ctx, c.APIKey); err != nil {
			return err
		}
	}
	if auth.Revoked(auth.Revocation{Disabled: st.disabled, ValidAfter: st.validAfter}, keyRevoked, c) {
		return auth.ErrRevoked
	}
	return nil
}

// swapKey checks an API key ("{id}_{secret}") and returns an access token
// of its account, reusing one until shortly before it expires.
func (s *Service) swapKey(ctx context.Context, key string) (string, error) {
	bad := fault.New(fault.Unauthenticated, "API_KEY_INVALID", "the API key is not valid (revoked, or its account disabled)")
	id, secret, ok := strings.Cut(key, "_")
	if !ok {
		return "", bad
	}
	sum := sha256.Sum256([]byte(secret))
	now := s.now()
	s.mu.Lock()
	kt, cached := s.keys[id]
	s.mu.Unlock()
	if cached && now.Before(kt.expire.Add(-time.Minute)) && subtle.ConstantTimeCompare(kt.hash, sum[:]) == 1 {
		if err := s.checkToken(ctx, kt.token); err == nil {
			return kt.token, nil
		}
	}
	var user string
	var hash []byte
	var revoked *time.Time
	err := s.Pool.QueryRow(ctx, `SELECT username, secret_hash, revoke_time FROM api_keys WHERE id = $1`, id).Scan(&user, &hash, &revoked)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (revoked != nil || subtle.ConstantTimeCompare(hash, sum[:]) != 1)) {
		return "", bad
	}
	if err != nil {
		return "", err
	}
	st, err := s.status(ctx, user)
	if err != nil {
		return "", err
	}
	if st.disabled {
		return "", bad
	}
	tok, exp, err := s.Signer.Sign(token.Claims{Account: user, Office: st.office, Role: st.role, APIKey: id}, now)
	if err != nil {
		return "", fault.Hide(err)
	}
	s.mu.Lock()
	if s.keys == nil {
		s.keys = map[string]keyToken{}
	}
	s.keys[id] = keyToken{token: tok, expire: exp, hash: sum[:]}
	s.mu.Unlock()
	return tok, nil
}

// Bootstrap creates the first administrator ("username:password") when the
// county has none, so the bureau can sign in and create the others.
func (s *Service) Bootstrap(ctx context.Context, spec string) error {
	user, password, ok := strings.Cut(spec, ":")
	if !ok {
		return errors.New(`TONGBAN_BOOTSTRAP_ADMIN: want "username:password"`)
	}
	var admins int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM accounts WHERE role = 'admin' AND NOT disabled`).Scan(&admins); err != nil {
		return err
	}
	if admins > 0 {
		return nil
	}
	_, err := s.Create(ctx, &accountsv1.Account{
		Name: "accounts/" + user, Kind: accountsv1.AccountKind_ACCOUNT_KIND_PERSON, Office: s.Dir.Bureau().Resource(),
		Role: "admin", DisplayName: "系统管理员",
	}, password)
	if err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	}
	return nil
}

// keyRevoked says whether the API key id was revoked (briefly cached, as
// an account's status).
func (s *Service) keyRevoked(ctx context.Context, id string) (bool, error) {
	now := s.now()
	s.mu.Lock()
	r, ok := s.revokedKeys[id]
	s.mu.Unlock()
	if ok && now.Sub(r.fetched) < cacheFor {
		return r.revoked, nil
	}
	var revoked bool
	err := s.Pool.QueryRow(ctx, `SELECT revoke_time IS NOT NULL FROM api_keys WHERE id = $1`, id).Scan(&revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		revoked = true
	} else if err != nil {
		return false, err
	}
	s.mu.Lock()
	if s.revokedKeys == nil {
		s.revokedKeys = map[string]keyStatus{}
	}
	s.revokedKeys[id] = keyStatus{revoked: revoked, fetched: now}
	s.mu.Unlock()
	return revoked, nil
}

type keyStatus struct {
	revoked bool
	fetched time.Time
}

// Revocations serves tongban.accounts.v1.RevocationService on the
// gateway's internal gRPC port: what every service needs to refuse a
// revoked token at its own port within the same bound as the gateway.
type Revocations struct {
	accountsv1.UnimplementedRevocationServiceServer
	Accounts *Service
}

// ListRevocations lists the revocations still in force: disabled accounts,
// accounts whose sessions were revoked within a token's lifetime, and API
// keys revoked within it. The internal service role only.
func (r *Revocations) ListRevocations(ctx context.Context, _ *accountsv1.ListRevocationsRequest) (*accountsv1.ListRevocationsResponse, error) {
	if _, err := policy.Require(ctx, policy.ReadFeeds); err != nil {
		return nil, err
	}
	s := r.Accounts
	now := s.now()
	// A token lives TTL; a clock a little fast at a service must not bring
	// one back, hence the margin.
	since := now.Add(-s.Signer.TTL() - time.Minute)
	resp := &accountsv1.ListRevocationsResponse{ReadTime: timestamppb.New(now)}
	rows, err := s.Pool.Query(ctx, `SELECT username, disabled, greatest(tokens_valid_after, 'epoch') FROM accounts
		WHERE disabled OR tokens_valid_after > $1 ORDER BY username`, since)
	if err != nil {
		return nil, err
	}
	resp.Accounts, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*accountsv1.AccountRevocation, error) {
		var a accountsv1.AccountRevocation
		var after time.Time
		err := row.Scan(&a.Username, &a.Disabled, &after)
		a.TokensValidAfter = timestamppb.New(after)
		return &a, err
	})
	if err != nil {
		return nil, err
	}
	rows, err = s.Pool.Query(ctx, `SELECT id FROM api_keys WHERE revoke_time > $1 ORDER BY id`, since)
	if err != nil {
		return nil, err
	}
	if resp.RevokedApiKeys, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, err
	}
	return resp, nil
}
