package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/tongban/tongban/services/platform/auth"
)

// RefuseCredential answers 401 to a request that presents the internal
// service credential at the public edge, in any header: the service role
// exists only between Tongban's processes. The services would not take it
// as a bearer token anyway; refusing it here keeps a leaked credential from
// even being tried against them through the gateway.
func RefuseCredential(credential string, h http.Handler) http.Handler {
	want := sha256.Sum256([]byte(credential))
	is := func(v string) bool {
		v = strings.TrimSpace(v)
		if b, ok := strings.CutPrefix(v, "Bearer "); ok {
			v = strings.TrimSpace(b)
		}
		have := sha256.Sum256([]byte(v))
		return subtle.ConstantTimeCompare(have[:], want[:]) == 1
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for name, vs := range r.Header {
			for _, v := range vs {
				if is(v) || strings.EqualFold(name, auth.ServiceHeader) || strings.EqualFold(name, "Grpc-Metadata-"+auth.ServiceHeader) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusUnauthorized)
					w.Write([]byte(`{"code":16,"message":"the internal service credential is not accepted here: sign in, or use an API key","details":[]}`)) //nolint:errcheck
					return
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}
