package gateway

import (
	"crypto/sha256"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/time/rate"
)

// maxBuckets bounds the limiter's memory: a flood of made-up tokens resets
// the buckets instead of growing them.
const maxBuckets = 50_000

// RateLimit gives every caller (its bearer token; without one, its address)
// a token bucket of perSecond requests a second with bursts of twice that;
// over it the gateway answers 429 with Retry-After and a JSON status body.
// perSecond ≤ 0 turns it off.
func RateLimit(h http.Handler, perSecond float64) http.Handler {
	if perSecond <= 0 {
		return h
	}
	l := &limiter{rate: rate.Limit(perSecond), burst: max(1, int(2*perSecond)), buckets: map[[32]byte]*rate.Limiter{}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.allow(callerKey(r)) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"code":8,"message":"too many requests from this caller: at most ` + //nolint:errcheck
				strconv.FormatFloat(perSecond, 'f', -1, 64) + ` a second; retry after a second","details":[]}`))
			return
		}
		h.ServeHTTP(w, r)
	})
}

type limiter struct {
	mu      sync.Mutex
	rate    rate.Limit
	burst   int
	buckets map[[32]byte]*rate.Limiter
}

func (l *limiter) allow(key [32]byte) bool {
	l.mu.Lock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.buckets = map[[32]byte]*rate.Limiter{}
		}
		b = rate.NewLimiter(l.rate, l.burst)
		l.buckets[key] = b
	}
	l.mu.Unlock()
	return b.Allow()
}

// callerKey is a hash of the bearer token (tokens are not kept in memory in
// clear), or of the client's address when there is none.
func callerKey(r *http.Request) [32]byte {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && tok != "" {
		return sha256.Sum256([]byte("token:" + tok))
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return sha256.Sum256([]byte("addr:" + host))
}
