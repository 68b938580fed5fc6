package server

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/intake/internal/identity"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/idempotency"
	"github.com/tongban/tongban/services/platform/textnorm"
)

// Limits on registration fields.
const (
	maxSubject = 200
	maxContent = 20000
	maxName    = 100
	maxTopic   = 64
	// maxPetitioners bounds the people named on one case (a joint letter
	// names many; the head count of a group can be far larger).
	maxPetitioners = 200
	maxHeadCount   = 100000
	// clockSkew tolerates clients whose clocks run a little ahead.
	clockSkew = 5 * time.Minute
)

var sourceSystem = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// validate checks a CreateCaseRequest registered by office (an id) and
// reports every bad field at once. It checks the case as it will be
// stored (cleaned, as newCase stores it), so that a subject of ideographic
// or zero-width spaces is the empty subject it looks like.
func (s *Server) validate(office string, req *intakev1.CreateCaseRequest, now time.Time) error {
	var v fault.Violations
	idempotency.Check(&v, req.GetRequestId())
	c := req.GetCase()
	if c == nil {
		v.Add("case", "is required")
		return v.Err()
	}
	c = cleaned(c)
	if _, ok := intakev1.Channel_name[int32(c.GetChannel())]; !ok || c.GetChannel() == intakev1.Channel_CHANNEL_UNSPECIFIED {
		v.Add("case.channel", "is required: one of CHANNEL_VISIT, CHANNEL_LETTER, CHANNEL_PHONE, CHANNEL_WEB, CHANNEL_REFERRAL")
	}
	if _, ok := intakev1.CaseClass_name[int32(c.GetCaseClass())]; !ok || c.GetCaseClass() == intakev1.CaseClass_CASE_CLASS_UNSPECIFIED {
		v.Add("case.case_class", "is required: one of CASE_CLASS_SUGGESTION, CASE_CLASS_ACCUSATION, CASE_CLASS_CLAIM")
	}
	if c.GetTownship() == "" {
		v.Add("case.township", "is required: the 9-digit division code of the township the case concerns")
	} else if o, ok := s.Dir.Office(c.GetTownship()); !ok || o.Kind != directory.Township {
		v.Add("case.township", "is not a township of county "+s.Dir.County.Code+" ("+s.Dir.County.Name+")")
	}
	text := func(field, val string, max int) {
		switch n := utf8.RuneCountInString(val); {
		case !utf8.ValidString(val):
			v.Add(field, "must be valid UTF-8")
		case n == 0:
			v.Add(field, "is required")
		case n > max:
			v.Add(field, "must be at most "+strconv.Itoa(max)+" characters, has "+strconv.Itoa(n))
		}
	}
	if a := c.GetAccusedOffice(); a != "" {
		if c.GetCaseClass() != intakev1.CaseClass_CASE_CLASS_ACCUSATION {
			v.Add("case.accused_office", "is only for an accusation (CASE_CLASS_ACCUSATION)")
		} else if o, ok := s.Dir.OfficeByResource(a); !ok {
			v.Add("case.accused_office", `must name an office of county `+s.Dir.County.Code+`, e.g. "offices/330421.zjj"`)
		} else if o.ID == office {
			v.Add("case.accused_office", "an office does not register an accusation against itself: the petition bureau or the discipline organ registers it (信访工作条例 第三十条第三款)")
		}
	}
	text("case.subject", c.GetSubject(), maxSubject)
	text("case.content", c.GetContent(), maxContent)
	if rt := c.GetReceiveTime(); rt != nil {
		if err := rt.CheckValid(); err != nil {
			v.Add("case.receive_time", "is not a valid time")
		} else if rt.AsTime().After(now.Add(clockSkew)) {
			v.Add("case.receive_time", "must not be in the future")
		}
	}
	src, ext := c.GetSourceSystem(), c.GetExternalId()
	referral := c.GetChannel() == intakev1.Channel_CHANNEL_REFERRAL
	if src == "" && (referral || ext != "") {
		v.Add("case.source_system", "is required for a referral (CHANNEL_REFERRAL) and with an external_id")
	}
	if ext == "" && (referral || src != "") {
		v.Add("case.external_id", "is required for a referral (CHANNEL_REFERRAL) and with a source_system")
	}
	if src != "" && !sourceSystem.MatchString(src) {
		v.Add("case.source_system", "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '-'")
	}
	if utf8.RuneCountInString(ext) > 128 || strings.TrimSpace(ext) != ext {
		v.Add("case.external_id", "must be at most 128 characters, without surrounding spaces")
	}
	if n := utf8.RuneCountInString(c.GetTopic()); n > maxTopic {
		v.Add("case.topic", "must be at most "+strconv.Itoa(maxTopic)+" characters")
	}
	s.validatePetitioners(&v, c)
	return v.Err()
}

// cleaned is a copy of c with its free text and names as they are
// checked and stored (textnorm); the caller's request is left alone.
func cleaned(c *intakev1.Case) *intakev1.Case {
	c = proto.Clone(c).(*intakev1.Case)
	c.Subject, c.Content, c.Topic = textnorm.Clean(c.GetSubject()), textnorm.Clean(c.GetContent()), textnorm.Clean(c.GetTopic())
	for _, p := range c.GetPetitioners() {
		p.DisplayName = textnorm.Clean(p.GetDisplayName())
	}
	return c
}

// validatePetitioners checks who petitions: named petitioners unless
// anonymous, each one well-formed, the head count, and a group's
// representatives against the county's rule set.
func (s *Server) validatePetitioners(v *fault.Violations, c *intakev1.Case) {
	ps := c.GetPetitioners()
	switch {
	case c.GetAnonymous() && len(ps) > 0:
		v.Add("case.petitioners", "an anonymous petition names no petitioner")
	case !c.GetAnonymous() && len(ps) == 0:
		v.Add("case.petitioners", "name at least one petitioner, or set anonymous")
	case len(ps) > maxPetitioners:
		v.Add("case.petitioners", "at most "+strconv.Itoa(maxPetitioners)+" petitioners; give the others in head_count")
	}
	representatives := 0
	for i, p := range ps {
		field := "case.petitioners[" + strconv.Itoa(i) + "]."
		if p.GetRepresentative() {
			representatives++
		}
		switch n := utf8.RuneCountInString(strings.TrimSpace(p.GetDisplayName())); {
		case n == 0:
			v.Add(field+"display_name", "is required")
		case n > maxName:
			v.Add(field+"display_name", "must be at most "+strconv.Itoa(maxName)+" characters")
		}
		if _, ok := intakev1.PetitionerKind_name[int32(p.GetKind())]; !ok {
			v.Add(field+"kind", "must be PETITIONER_KIND_PERSON or PETITIONER_KIND_ORGANIZATION")
		}
		if id := p.GetIdNumber(); id != "" {
			if p.GetKind() == intakev1.PetitionerKind_PETITIONER_KIND_ORGANIZATION {
				v.Add(field+"id_number", "an organisation has no resident ID number")
			} else if msg := identity.CheckIDNumber(id); msg != "" {
				v.Add(field+"id_number", msg)
			}
		}
		if ph := p.GetPhone(); ph != "" {
			if msg := identity.CheckPhone(ph); msg != "" {
				v.Add(field+"phone", msg)
			}
		}
	}
	hc := c.GetHeadCount()
	switch {
	case hc < 0 || hc > maxHeadCount:
		v.Add("case.head_count", "must be between 1 and "+strconv.Itoa(maxHeadCount)+" (0: the number of petitioners)")
		return
	case hc != 0 && int(hc) < len(ps):
		v.Add("case.head_count", "cannot be fewer than the "+strconv.Itoa(len(ps))+" petitioners named")
		return
	}
	people := int(headCount(c))
	if people < s.Rules.GroupSize {
		if representatives > 0 {
			v.Add("case.petitioners", "only a group petition ("+strconv.Itoa(s.Rules.GroupSize)+" or more people) names representatives")
		}
		return
	}
	limit := s.Rules.MaxRepresentatives(people)
	switch {
	case c.GetAnonymous():
	case representatives == 0:
		v.Add("case.petitioners", "a group petition of "+strconv.Itoa(people)+" people names its representatives (mark them representative)")
	case representatives > limit:
		v.Add("case.petitioners", "a group of "+strconv.Itoa(people)+" people names at most "+strconv.Itoa(limit)+
			" representatives, not "+strconv.Itoa(representatives)+": "+s.Rules.RepresentativesSource)
	}
}
