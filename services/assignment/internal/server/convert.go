package server

import (
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	"github.com/tongban/tongban/services/assignment/internal/store"
	"github.com/tongban/tongban/services/assignment/lifecycle"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/caseversion"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
)

func (s *Server) toProto(c *store.Case) *assignmentv1.Case {
	out := proto.Clone(c.Docs).(*assignmentv1.Case)
	out.Name = names.Case(c.Number)
	out.CaseNumber = c.Number
	out.State = assignmentv1.CaseState(c.State)
	out.HolderOffice = names.Office(c.Holder)
	out.RegisteredBy = names.Office(c.RegisteredBy)
	out.Township = c.Township
	out.County = c.County
	out.Etag = version(c).Etag()
	out.UpdateTime = timestamppb.New(c.UpdateTime)
	out.AccusedOffice = names.Office(c.Accused)
	out.LitigationRelated = c.LitigationRelated
	out.Urgent = c.Urgent
	out.Deadlines = c.Deadlines
	out.RepeatOf = ""
	if c.RepeatOf != "" {
		out.RepeatOf = names.Case(c.RepeatOf)
	}
	if c.Pending != "" {
		out.PendingOffice = names.Office(c.Pending)
		if lifecycle.State(c.State) == lifecycle.Transferred {
			out.SendBackDue = timestamppb.New(calendar.EndOfDay(s.sendBackDue(c)))
		}
	}
	if !c.AcceptTime.IsZero() {
		out.AcceptTime = timestamppb.New(c.AcceptTime)
	}
	if due := s.nextInstanceDue(c); !due.IsZero() {
		out.NextInstanceDue = timestamppb.New(calendar.EndOfDay(due))
	}
	return out
}

func entryProto(e *store.Entry) *assignmentv1.HistoryEntry {
	return &assignmentv1.HistoryEntry{
		Sequence:     e.Sequence,
		Action:       assignmentv1.Action(e.Action),
		Time:         timestamppb.New(e.Time),
		ActorOffice:  names.Office(e.ActorOffice),
		ActorRole:    e.ActorRole,
		FromState:    assignmentv1.CaseState(e.FromState),
		ToState:      assignmentv1.CaseState(e.ToState),
		FromOffice:   names.Office(e.FromOffice),
		ToOffice:     names.Office(e.ToOffice),
		Note:         e.Note,
		TargetOffice: names.Office(e.Target),
	}
}

// version is the case's version across the services: the registration's as
// intake's feed last told, and its moves'.
func version(c *store.Case) caseversion.Version {
	return caseversion.Version{Registration: max(c.RegistrationVersion, 1), Moves: c.Version}
}

// summary shortens an answer for the history entry.
func summary(text string) string {
	const n = 120
	if utf8.RuneCountInString(text) <= n {
		return text
	}
	return string([]rune(text)[:n]) + "…"
}

// policyCase is what the access policy needs of c.
func policyCase(c *store.Case) policy.Case {
	var co []string
	for _, r := range c.Docs.GetCoHandlers() {
		id, _ := names.OfficeID(r)
		co = append(co, id)
	}
	return policy.Case{
		County: c.County, Involved: c.Involved, State: lifecycle.State(c.State), Holder: c.Holder, Pending: c.Pending, CoHandlers: co,
	}
}
