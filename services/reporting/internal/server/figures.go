package server

import (
	"cmp"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	reportingv1 "github.com/tongban/tongban/proto/tongban/reporting/v1"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/reporting/internal/store"
)

// title is the name of the office of resource name "offices/{id}" (the
// name itself when the directory does not know it).
func (s *Server) title(resource string) string {
	if o, ok := s.Dir.OfficeByResource(resource); ok {
		return o.Name
	}
	return resource
}

func officeName(id string) string {
	if id == "" {
		return ""
	}
	return names.Office(id)
}

// units ranks the offices of a breakdown: most cases first.
func (s *Server) units(m map[string]*store.Sums) []*reportingv1.UnitFigures {
	var out []*reportingv1.UnitFigures
	for id, sums := range m {
		if sums.Get("cases") == 0 {
			continue
		}
		out = append(out, &reportingv1.UnitFigures{Office: names.Office(id), Title: s.title(names.Office(id)), Figures: figures(sums)})
	}
	slices.SortFunc(out, func(a, b *reportingv1.UnitFigures) int {
		return cmp.Or(cmp.Compare(b.GetFigures().GetCases(), a.GetFigures().GetCases()), cmp.Compare(a.GetOffice(), b.GetOffice()))
	})
	return out
}

var channelLabels = map[intakev1.Channel]string{
	intakev1.Channel_CHANNEL_VISIT: "走访", intakev1.Channel_CHANNEL_LETTER: "来信", intakev1.Channel_CHANNEL_PHONE: "来电",
	intakev1.Channel_CHANNEL_WEB: "网上", intakev1.Channel_CHANNEL_REFERRAL: "转入",
}

var classLabels = map[intakev1.CaseClass]string{
	intakev1.CaseClass_CASE_CLASS_SUGGESTION: "建议意见", intakev1.CaseClass_CASE_CLASS_ACCUSATION: "检举控告", intakev1.CaseClass_CASE_CLASS_CLAIM: "申诉求决",
}

func count(key, label string, s *store.Sums) *reportingv1.Count {
	if s == nil {
		s = new(store.Sums)
	}
	return &reportingv1.Count{Key: key, Label: label, Cases: s.Get("cases"), Persons: s.Get("persons")}
}

// figures turns sums into Figures: each measure into the field of its name,
// then the rates.
func figures(s *store.Sums) *reportingv1.Figures {
	f := &reportingv1.Figures{}
	if s == nil {
		return f
	}
	fields := f.ProtoReflect().Descriptor().Fields()
	for i, name := range store.Measures {
		f.ProtoReflect().Set(fields.ByName(protoreflect.Name(name)), protoreflect.ValueOfInt64(s[i]))
	}
	f.TimelyRoutingRate = rate(f.RoutingOnTime, f.RoutingOnTime+f.RoutingLate)
	f.TimelyAcceptanceRate = rate(f.AcceptanceOnTime, f.AcceptanceOnTime+f.AcceptanceLate)
	f.OnTimeAnswerRate = rate(f.HandlingOnTime, f.HandlingOnTime+f.HandlingLate)
	f.ClosedRate = rate(f.Closed+f.Declined, f.Cases)
	f.EvaluationRate = rate(f.Evaluated, f.Answered)
	f.SatisfactionRate = rate(f.Satisfied+f.BasicallySatisfied, f.Evaluated)
	f.ResolutionRate = rate(f.Resolved, f.Cases-f.Declined)
	return f
}

func rate(n, d int64) *float64 {
	if d == 0 {
		return nil
	}
	return proto.Float64(float64(n) / float64(d))
}

func change(now, before int64) *float64 {
	if before == 0 {
		return nil
	}
	return proto.Float64(float64(now-before) / float64(before))
}
