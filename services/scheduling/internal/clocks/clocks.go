// Package clocks says what each move of a case does to its statutory
// clocks: which start (for which office), which stop, which an extension
// lengthens. It is a table over assignment's actions, like assignment's
// own state machine, and knows nothing of storage.
package clocks

import (
	"strconv"
	"time"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/ruleset"
)

// Kind is a clock's kind.
type Kind = assignmentv1.ClockKind

// Shorter names.
const (
	Routing         = assignmentv1.ClockKind_CLOCK_KIND_ROUTING
	Acceptance      = assignmentv1.ClockKind_CLOCK_KIND_ACCEPTANCE
	Objection       = assignmentv1.ClockKind_CLOCK_KIND_OBJECTION
	Handling        = assignmentv1.ClockKind_CLOCK_KIND_HANDLING
	ReviewRequest   = assignmentv1.ClockKind_CLOCK_KIND_REVIEW_REQUEST
	Review          = assignmentv1.ClockKind_CLOCK_KIND_REVIEW
	ReReviewRequest = assignmentv1.ClockKind_CLOCK_KIND_RE_REVIEW_REQUEST
	ReReview        = assignmentv1.ClockKind_CLOCK_KIND_RE_REVIEW
	Report          = assignmentv1.ClockKind_CLOCK_KIND_REPORT
)

// All kinds, for stopping everything when a case ends.
var All = []Kind{Routing, Acceptance, Objection, Handling, ReviewRequest, Review, ReReviewRequest, ReReview, Report}

// Start is a clock a move starts (or restarts) for an office.
type Start struct {
	Kind   Kind
	Office string // office id
	At     time.Time
	// Due fixes the last day instead of the rule (a report's date).
	Due time.Time
}

// Effects is what one move does to a case's clocks.
type Effects struct {
	Stop   []Kind
	Start  []Start
	Extend int  // days added to the handling clock
	Reopen bool // the handling clock runs again (rework)
	// Pause and Resume hold clocks whose time does not count (a hearing).
	Pause, Resume []Kind
}

// Move is what the table needs of a move.
type Move struct {
	Action        assignmentv1.Action
	Class         intakev1.CaseClass
	At            time.Time // when the move was made
	ReceiveTime   time.Time // for the registration; for a sign-for, the transfer's time
	Holder        string    // office id holding the case after the move
	Target        string    // office id the move addresses, if any
	ExtensionDays int
	ReportDue     time.Time
}

// Of returns the effects of m.
func Of(m Move) Effects {
	claim := m.Class == intakev1.CaseClass_CASE_CLASS_CLAIM
	start := func(k Kind, office string) Start { return Start{Kind: k, Office: office, At: m.At} }
	switch m.Action {
	case assignmentv1.Action_ACTION_REGISTER:
		at := m.ReceiveTime
		if at.IsZero() {
			at = m.At
		}
		return Effects{Start: []Start{{Kind: Routing, Office: m.Holder, At: at}}}
	case assignmentv1.Action_ACTION_REFER_UP, assignmentv1.Action_ACTION_ESCALATE, assignmentv1.Action_ACTION_ACCEPT_RETURN,
		assignmentv1.Action_ACTION_REOPEN: // a reopened case is decided again, from the correction
		// The new holder decides, on a clock of its own.
		return Effects{Stop: []Kind{Objection}, Start: []Start{start(Routing, m.Holder)}}
	case assignmentv1.Action_ACTION_ROUTE, assignmentv1.Action_ACTION_TRANSFER:
		return Effects{Stop: []Kind{Routing, Acceptance}, Start: []Start{start(Objection, m.Target)}}
	case assignmentv1.Action_ACTION_SEND_BACK:
		return Effects{Stop: []Kind{Objection}}
	case assignmentv1.Action_ACTION_SIGN_FOR:
		// The period to decide on acceptance runs from the day the organ
		// received the case (信访工作条例 第二十三条, 浙江省信访条例 第二十条), not
		// from its signing: a slow sign-for does not lengthen it.
		received := Start{Kind: Acceptance, Office: m.Holder, At: m.ReceiveTime}
		if received.At.IsZero() || received.At.After(m.At) {
			received.At = m.At
		}
		return Effects{Stop: []Kind{Objection}, Start: []Start{received}}
	case assignmentv1.Action_ACTION_ASSIGN_DOWN:
		return Effects{Stop: []Kind{Routing}, Start: []Start{start(Acceptance, m.Holder), {Kind: Report, Office: m.Holder, At: m.At, Due: m.ReportDue}}}
	case assignmentv1.Action_ACTION_ACCEPT:
		e := Effects{Stop: []Kind{Routing, Acceptance}}
		if claim {
			e.Start = []Start{start(Handling, m.Holder)}
		}
		return e
	case assignmentv1.Action_ACTION_DECLINE, assignmentv1.Action_ACTION_CLOSE, assignmentv1.Action_ACTION_RE_REVIEW:
		return Effects{Stop: All}
	case assignmentv1.Action_ACTION_EXTEND:
		return Effects{Extend: m.ExtensionDays}
	case assignmentv1.Action_ACTION_ANSWER:
		e := Effects{Stop: []Kind{Handling}}
		if claim {
			// The petitioner's window; the office to watch is the one that answered.
			e.Start = []Start{start(ReviewRequest, m.Holder)}
		}
		return e
	case assignmentv1.Action_ACTION_RETURN_FOR_REWORK:
		return Effects{Stop: []Kind{ReviewRequest}, Reopen: claim}
	case assignmentv1.Action_ACTION_REPORT:
		return Effects{Stop: []Kind{Report}}
	case assignmentv1.Action_ACTION_START_HEARING:
		return Effects{Pause: []Kind{ReReview}}
	case assignmentv1.Action_ACTION_END_HEARING:
		return Effects{Resume: []Kind{ReReview}}
	case assignmentv1.Action_ACTION_REQUEST_REVIEW:
		return Effects{Stop: []Kind{ReviewRequest}, Start: []Start{start(Review, m.Holder)}}
	case assignmentv1.Action_ACTION_REVIEW:
		return Effects{Stop: []Kind{Review}, Start: []Start{start(ReReviewRequest, m.Holder)}}
	case assignmentv1.Action_ACTION_REQUEST_RE_REVIEW:
		return Effects{Stop: []Kind{ReReviewRequest}, Start: []Start{start(ReReview, m.Holder)}}
	}
	return Effects{}
}

// Supervised says whether a clock is a duty an office can miss. The
// petitioner's windows (review, re-review) and an organ's right to object
// to a transfer are shown, but raise no reminder and no supervision.
func Supervised(k Kind) bool { return k != ReviewRequest && k != ReReviewRequest && k != Objection }

// Due computes the last day of a clock of kind started at start under rules
// on cal, with extra days from an extension; fixed (a report's date) wins
// when set. It reports whether the date rests on a provisional year.
func Due(cal *calendar.Calendar, rules *ruleset.RuleSet, kind Kind, start time.Time, extension int, fixed time.Time) (due time.Time, provisional bool, rule string) {
	if !fixed.IsZero() {
		d := calendar.DateOf(fixed)
		return d, cal.Day(d).Provisional, "交办机关确定的期限 (信访工作条例 第二十二条第三项)"
	}
	r, ok := rules.Clocks[kind]
	if !ok {
		return time.Time{}, false, ""
	}
	if r.WorkingDays {
		due, provisional = cal.AddWorkingDays(start, r.Days+extension)
	} else {
		due, provisional = cal.AddDays(start, r.Days+extension, rules.RollOver)
	}
	rule = r.String()
	if extension > 0 {
		rule += " + 延期" + strconv.Itoa(extension) + "日"
	}
	return due, provisional, rule
}
