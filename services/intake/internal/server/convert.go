package server

import (
	_ "time/tzdata" // Asia/Shanghai on machines without zoneinfo

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/county/caseversion"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/intake/internal/identity"
	"github.com/tongban/tongban/services/intake/internal/store"
	"github.com/tongban/tongban/services/platform/auth"
)

// version is the case's version across the services: its registration's
// and the last move this service has heard of (every case's first move,
// REGISTER, is known before it arrives).
func version(c *store.Case) caseversion.Version {
	return caseversion.Version{Registration: c.Version, Moves: max(c.Moves, caseversion.Registered.Moves)}
}

func caseName(number string) string {
	if number == "" {
		return ""
	}
	return names.Case(number)
}

// view renders a case for caller; rootVisible says whether the caller may
// see the first case of the matter a repeat points at. Only the registering office sees the
// petitioner's identity in clear; other offices see it masked, and for an
// accusation (检举控告) they see no petitioner at all (信访工作条例 Art 30).
func (s *Server) view(caller auth.Caller, c *store.Case, root rootView) *intakev1.Case {
	out := &intakev1.Case{
		Name:         names.Case(c.Number),
		CaseNumber:   c.Number,
		Channel:      intakev1.Channel(c.Channel),
		ReceiveTime:  timestamppb.New(c.ReceiveTime),
		Township:     c.Township,
		CaseClass:    intakev1.CaseClass(c.Class),
		Subject:      c.Subject,
		Content:      c.Content,
		County:       c.County,
		RegisteredBy: names.Office(c.RegisteredBy),
		CreateTime:   timestamppb.New(c.CreateTime),
		State:        assignmentv1.CaseState(c.State),
		HolderOffice: names.Office(c.Holder),
		SourceSystem: c.SourceSystem,
		ExternalId:   c.ExternalID,
		Topic:        c.Topic,
		Anonymous:    c.Anonymous,
		HeadCount:    c.HeadCount,
		Group:        int(c.HeadCount) >= s.Rules.GroupSize,
		Etag:         version(c).Etag(),
		UpdateTime:   timestamppb.New(c.UpdateTime),
	}
	// That a case repeats an earlier one says the person has another case:
	// shown only to whoever may see that one, or registering with a guessed
	// ID number would tell whether someone has a case elsewhere.
	if root.visible {
		out.Repeat, out.RepeatOf, out.RepeatOfFinal = c.RepeatOf != "", caseName(c.RepeatOf), root.final
	}
	clear := policy.SeesIdentity(caller, c.RegisteredBy)
	if clear && c.QueryCodeHash == nil { // a code drawn before codes were derived is known no more
		out.QueryCode = s.Store.QueryCode(c.Number)
	}
	if c.Accused != "" && caller.Office.ID != c.Accused {
		out.AccusedOffice = names.Office(c.Accused)
	}
	accusation := c.Class == int16(intakev1.CaseClass_CASE_CLASS_ACCUSATION)
	for _, p := range c.Petitioners {
		if !clear && accusation {
			break // the accuser is never shown outside the registering office
		}
		pp := &intakev1.Petitioner{
			Kind: intakev1.PetitionerKind(p.Kind), Representative: p.Representative,
			DisplayName: p.Name, IdNumber: p.IDNumber, Phone: p.Phone,
		}
		if !clear {
			pp = masked(pp)
		}
		out.Petitioners = append(out.Petitioners, pp)
	}
	for _, b := range c.History {
		e := &assignmentv1.HistoryEntry{}
		if err := proto.Unmarshal(b, e); err == nil {
			out.History = append(out.History, e)
		}
	}
	return out
}

// masked hides a person's identity; an organisation's name stays (it is
// not personal), its contact phone is masked.
func masked(p *intakev1.Petitioner) *intakev1.Petitioner {
	name := identity.MaskName(p.GetDisplayName())
	if p.GetKind() == intakev1.PetitionerKind_PETITIONER_KIND_ORGANIZATION {
		name = p.GetDisplayName()
	}
	return &intakev1.Petitioner{
		Kind:           p.GetKind(),
		Representative: p.GetRepresentative(),
		DisplayName:    name,
		IdNumber:       identity.MaskIDNumber(p.GetIdNumber()),
		Phone:          identity.MaskPhone(p.GetPhone()),
	}
}
