package policy

import (
	"slices"

	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	"github.com/tongban/tongban/services/county/names"
)

// MoveParties is who a move makes party to a case, so that CanSeeCase lets
// them see it from then on: the office holding it after the move, the
// office the move addresses (a transfer's receiver, which must read it to
// sign for it) and a leader taking charge (包案), as Principal names them.
// With the registering office, these are a case's involved parties in
// every read model that decides visibility (intake's lists, reporting's
// figures), so a list and a figure count the same cases.
func MoveParties(mv *eventsv1.CaseMoved) []string {
	var out []string
	for _, o := range []string{mv.GetEntry().GetToOffice(), mv.GetEntry().GetTargetOffice()} {
		if id, ok := names.OfficeID(o); ok && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if a := mv.GetLeadAccount(); a != "" && !slices.Contains(out, a) {
		out = append(out, a)
	}
	return out
}
