package clocks

import (
	"slices"
	"testing"
	"time"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/ruleset"
)

func TestOf(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, calendar.China)
	claim, suggestion := intakev1.CaseClass_CASE_CLASS_CLAIM, intakev1.CaseClass_CASE_CLASS_SUGGESTION
	tests := []struct {
		name   string
		move   Move
		stop   []Kind
		start  []Kind
		office string
	}{
		{"registration starts routing", Move{Action: assignmentv1.Action_ACTION_REGISTER, Holder: "330421102"}, nil, []Kind{Routing}, "330421102"},
		{"referral restarts routing for the bureau", Move{Action: assignmentv1.Action_ACTION_REFER_UP, Holder: "330421.xfj"}, []Kind{Objection}, []Kind{Routing}, "330421.xfj"},
		{"transfer: the receiver may object", Move{Action: assignmentv1.Action_ACTION_TRANSFER, Holder: "330421.xfj", Target: "330421.zjj"}, []Kind{Routing, Acceptance}, []Kind{Objection}, "330421.zjj"},
		{"sign-for: the receiver must tell the petitioner", Move{Action: assignmentv1.Action_ACTION_SIGN_FOR, Holder: "330421.zjj"}, []Kind{Objection}, []Kind{Acceptance}, "330421.zjj"},
		{"accepting a claim starts handling", Move{Action: assignmentv1.Action_ACTION_ACCEPT, Class: claim, Holder: "330421.zjj"}, []Kind{Routing, Acceptance}, []Kind{Handling}, "330421.zjj"},
		{"accepting a suggestion starts no handling clock", Move{Action: assignmentv1.Action_ACTION_ACCEPT, Class: suggestion, Holder: "330421.zjj"}, []Kind{Routing, Acceptance}, nil, ""},
		{"answering a claim opens the review window", Move{Action: assignmentv1.Action_ACTION_ANSWER, Class: claim, Holder: "330421.zjj"}, []Kind{Handling}, []Kind{ReviewRequest}, "330421.zjj"},
		{"assigning down: acceptance and the report", Move{Action: assignmentv1.Action_ACTION_ASSIGN_DOWN, Holder: "330421102"}, []Kind{Routing}, []Kind{Acceptance, Report}, "330421102"},
		{"review request: the reviewer's clock", Move{Action: assignmentv1.Action_ACTION_REQUEST_REVIEW, Holder: "330421.xfj"}, []Kind{ReviewRequest}, []Kind{Review}, "330421.xfj"},
		{"re-review ends everything", Move{Action: assignmentv1.Action_ACTION_RE_REVIEW}, All, nil, ""},
		{"a note on the card touches no clock", Move{Action: assignmentv1.Action_ACTION_RECORD_PROGRESS}, nil, nil, ""},
	}
	for _, tc := range tests {
		tc.move.At = at
		e := Of(tc.move)
		if !slices.Equal(e.Stop, tc.stop) {
			t.Errorf("%s: stops %v, want %v", tc.name, e.Stop, tc.stop)
		}
		var kinds []Kind
		for _, s := range e.Start {
			kinds = append(kinds, s.Kind)
			if s.Office != tc.office {
				t.Errorf("%s: %v for %q, want %q", tc.name, s.Kind, s.Office, tc.office)
			}
		}
		if !slices.Equal(kinds, tc.start) {
			t.Errorf("%s: starts %v, want %v", tc.name, kinds, tc.start)
		}
	}
	// Acceptance runs from receipt (信访工作条例 第二十三条): a sign-for three
	// days after the transfer does not lengthen it.
	transferred := at.AddDate(0, 0, -3)
	if e := Of(Move{Action: assignmentv1.Action_ACTION_SIGN_FOR, Holder: "330421.zjj", At: at, ReceiveTime: transferred}); len(e.Start) != 1 || !e.Start[0].At.Equal(transferred) {
		t.Errorf("sign-for after a slow receipt: %+v, want acceptance from %v", e, transferred)
	}
	if e := Of(Move{Action: assignmentv1.Action_ACTION_SIGN_FOR, Holder: "330421.zjj", At: at}); len(e.Start) != 1 || !e.Start[0].At.Equal(at) {
		t.Errorf("sign-for from an event without the transfer's time: %+v", e)
	}
	if e := Of(Move{Action: assignmentv1.Action_ACTION_START_HEARING}); !slices.Equal(e.Pause, []Kind{ReReview}) {
		t.Errorf("hearing: %+v", e)
	}
	if e := Of(Move{Action: assignmentv1.Action_ACTION_END_HEARING}); !slices.Equal(e.Resume, []Kind{ReReview}) {
		t.Errorf("hearing end: %+v", e)
	}
	if e := Of(Move{Action: assignmentv1.Action_ACTION_EXTEND, ExtensionDays: 30}); e.Extend != 30 {
		t.Errorf("extension: %+v", e)
	}
	received := at.AddDate(0, 0, -3)
	if e := Of(Move{Action: assignmentv1.Action_ACTION_REGISTER, At: at, ReceiveTime: received}); !e.Start[0].At.Equal(received) {
		t.Errorf("routing counts from receipt: %v", e.Start[0].At)
	}
}

func TestDue(t *testing.T) {
	t.Parallel()
	cal := calendar.Official()
	national, _ := ruleset.Get("national-2022")
	zhejiang, _ := ruleset.Get("zhejiang-2016")
	friday := time.Date(2026, 9, 25, 10, 0, 0, 0, calendar.China) // 中秋, the Friday before 国庆
	tests := []struct {
		name  string
		rules *ruleset.RuleSet
		kind  Kind
		start time.Time
		ext   int
		fixed time.Time
		want  string
		prov  bool
	}{
		{"Zhejiang routing: 5 working days over 国庆", zhejiang, Routing, friday, 0, time.Time{}, "2026-10-09", false},
		{"national routing: 15 days, ending on a 调休 working Saturday", national, Routing, friday, 0, time.Time{}, "2026-10-10", false},
		{"national acceptance from 16 Sep ends in 国庆: rolled over", national, Acceptance, time.Date(2026, 9, 16, 9, 0, 0, 0, calendar.China), 0, time.Time{}, "2026-10-08", false},
		{"Zhejiang handling: 30 days", zhejiang, Handling, time.Date(2026, 10, 20, 9, 0, 0, 0, calendar.China), 0, time.Time{}, "2026-11-19", false},
		{"extended by 30: ends on a Saturday, rolled to Monday", zhejiang, Handling, time.Date(2026, 10, 20, 9, 0, 0, 0, calendar.China), 30, time.Time{}, "2026-12-21", false},
		{"national handling into 2027: provisional", national, Handling, time.Date(2026, 11, 23, 9, 0, 0, 0, calendar.China), 0, time.Time{}, "2027-01-22", true},
		{"a report's date is the assigner's", zhejiang, Report, friday, 0, time.Date(2026, 10, 30, 0, 0, 0, 0, calendar.China), "2026-10-30", false},
	}
	for _, tc := range tests {
		due, prov, rule := Due(cal, tc.rules, tc.kind, tc.start, tc.ext, tc.fixed)
		if due.Format(time.DateOnly) != tc.want || prov != tc.prov || rule == "" {
			t.Errorf("%s: %s (provisional %v, rule %q), want %s (%v)", tc.name, due.Format(time.DateOnly), prov, rule, tc.want, tc.prov)
		}
	}
}
