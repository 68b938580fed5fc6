package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	accountsv1 "github.com/tongban/tongban/proto/tongban/accounts/v1"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/logging"
	"github.com/tongban/tongban/services/platform/token"
)

// Revocation is what revokes an account's tokens.
type Revocation struct {
	Disabled   bool
	ValidAfter time.Time // tokens issued before it no longer hold
}

// Revoked is the one rule for whether a revocation ends a token, used by
// the gateway at the edge and by every service behind it: a disabled
// account's tokens, a token issued before its account's sessions were
// revoked, and a token swapped for a revoked API key.
func Revoked(r Revocation, keyRevoked bool, c token.Claims) bool {
	return r.Disabled || keyRevoked || c.IssuedAt == nil || c.IssuedAt.Before(r.ValidAfter)
}

// ErrRevoked answers a token that no longer holds.
var ErrRevoked = fault.New(fault.Unauthenticated, "TOKEN_REVOKED", "this access token was revoked or its account disabled: sign in again")

// errRevocationsUnknown answers an account's token while the revocations
// are older than allowed: refusing is safer than honouring a token that may
// have been revoked.
var errRevocationsUnknown = fault.New(fault.Unavailable, "REVOCATIONS_UNKNOWN",
	"this service cannot reach the gateway to learn which tokens were revoked; try again shortly")

// Revocations are the gateway's revocations as a service last read them
// (Follow keeps them current).
type Revocations struct {
	// MaxAge is how old the last successful read may be before account
	// tokens are refused (default 10 s).
	MaxAge time.Duration

	mu       sync.RWMutex
	accounts map[string]Revocation
	keys     map[string]bool
	read     time.Time // when the last successful read was made (this process's clock)
}

// Set replaces the revocations with a fresh read made at read.
func (r *Revocations) Set(resp *accountsv1.ListRevocationsResponse, read time.Time) {
	accounts := make(map[string]Revocation, len(resp.GetAccounts()))
	for _, a := range resp.GetAccounts() {
		accounts[a.GetUsername()] = Revocation{Disabled: a.GetDisabled(), ValidAfter: a.GetTokensValidAfter().AsTime()}
	}
	keys := make(map[string]bool, len(resp.GetRevokedApiKeys()))
	for _, k := range resp.GetRevokedApiKeys() {
		keys[k] = true
	}
	r.mu.Lock()
	r.accounts, r.keys, r.read = accounts, keys, read
	r.mu.Unlock()
}

// Fresh says whether the revocations are current enough for tokens to be
// accepted.
func (r *Revocations) Fresh(now time.Time) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.fresh(now)
}

func (r *Revocations) fresh(now time.Time) bool {
	maxAge := r.MaxAge
	if maxAge <= 0 {
		maxAge = 10 * time.Second
	}
	return !r.read.IsZero() && now.Sub(r.read) <= maxAge
}

// check refuses a token that a revocation ends, or any account token
// while the revocations are unknown or stale.
func (r *Revocations) check(c token.Claims, now time.Time) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.fresh(now) {
		return errRevocationsUnknown
	}
	if Revoked(r.accounts[c.Account], c.APIKey != "" && r.keys[c.APIKey], c) {
		return ErrRevoked
	}
	return nil
}

// FollowRevocations reads the revocations from client every refresh until
// ctx ends; a failed read is logged and retried, and once the last good read
// is older than r.MaxAge account tokens are refused.
func FollowRevocations(ctx context.Context, r *Revocations, client accountsv1.RevocationServiceClient, refresh time.Duration) error {
	logger := logging.FromContext(ctx)
	failing := false
	for {
		callCtx, cancel := context.WithTimeout(ctx, refresh+time.Second)
		resp, err := client.ListRevocations(callCtx, &accountsv1.ListRevocationsRequest{})
		cancel()
		switch {
		case err == nil:
			r.Set(resp, time.Now())
			if failing {
				logger.InfoContext(ctx, "revocations: reading again")
			}
			failing = false
		case ctx.Err() != nil:
			return nil
		case !failing:
			logger.WarnContext(ctx, "revocations: cannot read them from the gateway", slog.String("error", err.Error()))
			failing = true
		}
		wait := refresh
		if failing {
			wait = min(refresh, 200*time.Millisecond) // the gateway is starting, or back soon
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}
