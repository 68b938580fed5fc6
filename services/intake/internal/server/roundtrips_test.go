package server

import (
	"testing"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/devkit/authtest"
)

// TestRegistrationRoundTrips: on this deployment's virtual machines a round
// trip to PostgreSQL costs more CPU than the SQL it carries, so a
// registration's are counted: BEGIN, the idempotency claim, the number and
// the repeat look-up; the case row and its petitioners with the audit
// chain's head; and COMMIT with the audit entry, the outbox event and the
// stored answer.
func TestRegistrationRoundTrips(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	pool, writes := testDB.NewCountingPool(t)
	s.Store.Pool = pool
	ctx := authtest.As(t, "demo-dayun")
	register := func(requestID, phone string) {
		t.Helper()
		c := validCase()
		c.Petitioners[0].IdNumber, c.Petitioners[0].Phone = "", phone // not a repeat of the other
		if _, err := s.CreateCase(ctx, &intakev1.CreateCaseRequest{Case: c, RequestId: requestID}); err != nil {
			t.Fatal(err)
		}
	}
	register("warm-up", "13900000001") // prepares the statements (a round trip each, once per connection)
	writes.Store(0)
	register("counted", "13900000002")
	if n := writes.Load(); n != 3 {
		t.Errorf("a registration took %d round trips, want 3", n)
	}
}
