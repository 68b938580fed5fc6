// Package ruleset holds the rules that differ by jurisdiction, as data: each
// named rule set cites its source. A county chooses its rule set in the
// directory ("rule_set"). The scheduling issue adds the time limits here.
package ruleset

import (
	"fmt"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
)

// RepresentativeLimit is one row of a representatives rule: groups of up to
// UpTo people (0: any size) name at most Max representatives.
type RepresentativeLimit struct {
	UpTo int
	Max  int
}

// RuleSet is one jurisdiction's rules.
type RuleSet struct {
	Name  string
	Title string
	// GroupSize is the head count from which a petition is a group
	// petition (集体访) that must name representatives.
	GroupSize int
	// Representatives, in increasing UpTo, the last with UpTo 0.
	Representatives []RepresentativeLimit
	// RepresentativesSource cites the article.
	RepresentativesSource string

	// HandlingDays is the period for handling a claim from acceptance (日:
	// calendar days), ExtensionDays the most one extension may add.
	HandlingDays, ExtensionDays int
	// HandlingSource cites both.
	HandlingSource string
	// ObjectionWorkingDays is how many working days an organ has to object to
	// a transfer it believes is not its business (工作日).
	ObjectionWorkingDays int
	// ObjectionSource cites it.
	ObjectionSource string
	// NextInstanceDays is how long the petitioner has to ask for review after
	// receiving the answer, and for re-review after the review (日).
	NextInstanceDays int
	// NextInstanceSource cites it.
	NextInstanceSource string
	// RollOver: a period of 日 whose last day is not a working day ends on
	// the next working day (民法典 第二百零三条). Not settled for petition
	// work, so a setting; on by default.
	RollOver bool
	// SendBackLimit is the send-back of a case (across every organ it was
	// sent to) that hands it to the county petition bureau to decide,
	// instead of back to its sender: 推诿扯皮 ends there. No article fixes the
	// number; it is the county's setting.
	SendBackLimit int
	// Clocks are the statutory clocks scheduling runs, by kind.
	Clocks map[assignmentv1.ClockKind]Clock
}

// Clock is the rule of one statutory clock: its length in calendar days
// (日) or working days (工作日), counted from the day after its start.
type Clock struct {
	Days        int
	WorkingDays bool
	Source      string
}

// String renders the rule as a clerk reads it, e.g. "5个工作日 (…)".
func (c Clock) String() string {
	unit := "日"
	if c.WorkingDays {
		unit = "个工作日"
	}
	return fmt.Sprintf("%d%s (%s)", c.Days, unit, c.Source)
}

// clocks builds a rule set's clocks; the review chain and the objection are
// the same everywhere.
func clocks(routing, acceptance, handling Clock) map[assignmentv1.ClockKind]Clock {
	return map[assignmentv1.ClockKind]Clock{
		assignmentv1.ClockKind_CLOCK_KIND_ROUTING:           routing,
		assignmentv1.ClockKind_CLOCK_KIND_ACCEPTANCE:        acceptance,
		assignmentv1.ClockKind_CLOCK_KIND_OBJECTION:         {Days: 5, WorkingDays: true, Source: "信访工作条例 第二十三条第三款"},
		assignmentv1.ClockKind_CLOCK_KIND_HANDLING:          handling,
		assignmentv1.ClockKind_CLOCK_KIND_REVIEW_REQUEST:    {Days: 30, Source: "信访工作条例 第三十五条第一款"},
		assignmentv1.ClockKind_CLOCK_KIND_REVIEW:            {Days: 30, Source: "信访工作条例 第三十五条第一款"},
		assignmentv1.ClockKind_CLOCK_KIND_RE_REVIEW_REQUEST: {Days: 30, Source: "信访工作条例 第三十六条第一款"},
		assignmentv1.ClockKind_CLOCK_KIND_RE_REVIEW:         {Days: 30, Source: "信访工作条例 第三十六条第一款"},
	}
}

// MaxRepresentatives is how many representatives a group of headCount
// people may name.
func (r *RuleSet) MaxRepresentatives(headCount int) int {
	for _, l := range r.Representatives {
		if l.UpTo == 0 || headCount <= l.UpTo {
			return l.Max
		}
	}
	return 0
}

var sets = map[string]*RuleSet{
	"national-2022": {
		Name:                  "national-2022",
		Title:                 "信访工作条例 (2022)",
		GroupSize:             5,
		Representatives:       []RepresentativeLimit{{Max: 5}},
		RepresentativesSource: "信访工作条例 第二十条第三款 (代表人数不超过5人)",
		HandlingDays:          60,
		ExtensionDays:         30,
		HandlingSource:        "信访工作条例 第三十四条 (60日, extension of at most 30日 approved by the organ's head)",
		ObjectionWorkingDays:  5,
		ObjectionSource:       "信访工作条例 第二十三条第三款 (异议: 5个工作日内提出并说明理由)",
		NextInstanceDays:      30,
		NextInstanceSource:    "信访工作条例 第三十五条、第三十六条 (复查、复核: 30日内提出)",
		RollOver:              true,
		SendBackLimit:         3,
		Clocks: clocks(
			Clock{Days: 15, Source: "信访工作条例 第二十二条"},
			Clock{Days: 15, Source: "信访工作条例 第二十三条"},
			Clock{Days: 60, Source: "信访工作条例 第三十四条"},
		),
	},
	"zhejiang-2016": {
		Name:                  "zhejiang-2016",
		Title:                 "浙江省信访条例 (2016)",
		GroupSize:             5,
		Representatives:       []RepresentativeLimit{{UpTo: 10, Max: 3}, {Max: 5}},
		RepresentativesSource: "浙江省信访条例 第十五条第二款 (groups of up to 10 people: at most 3 representatives; more than 10: at most 5)",
		HandlingDays:          30,
		ExtensionDays:         60,
		HandlingSource:        "浙江省信访条例 第二十三条 (30日, extension of at most 60日 approved by the organ's head)",
		ObjectionWorkingDays:  5,
		ObjectionSource:       "信访工作条例 第二十三条第三款 (异议: 5个工作日内提出并说明理由)",
		NextInstanceDays:      30,
		NextInstanceSource:    "信访工作条例 第三十五条、第三十六条; 浙江省信访条例 第二十四条 (复查、复核: 30日内提出)",
		RollOver:              true,
		SendBackLimit:         3,
		Clocks: clocks(
			Clock{Days: 5, WorkingDays: true, Source: "浙江省信访条例 第二十条第一款"},
			Clock{Days: 5, WorkingDays: true, Source: "浙江省信访条例 第二十条第二款"},
			Clock{Days: 30, Source: "浙江省信访条例 第二十三条"},
		),
	},
}

// Get returns the named rule set.
func Get(name string) (*RuleSet, error) {
	r, ok := sets[name]
	if !ok {
		return nil, fmt.Errorf("ruleset: unknown rule set %q (known: national-2022, zhejiang-2016)", name)
	}
	return r, nil
}
