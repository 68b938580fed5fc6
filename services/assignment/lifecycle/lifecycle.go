// Package lifecycle is assignment's state machine: one table saying which
// action moves a case from which states to which, which kinds of office may
// take it, and which of them (the holder, the organ a transfer waits on, or
// any office that may see the case). docs/lifecycle.md draws the same table;
// a test keeps the two in step.
package lifecycle

import (
	"errors"
	"fmt"
	"slices"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	"github.com/tongban/tongban/services/county/directory"
)

// State and Action are the proto enums.
type (
	State  = assignmentv1.CaseState
	Action = assignmentv1.Action
)

// Shorter names for the table.
const (
	Registered        = assignmentv1.CaseState_CASE_STATE_REGISTERED
	InHandling        = assignmentv1.CaseState_CASE_STATE_IN_HANDLING
	Answered          = assignmentv1.CaseState_CASE_STATE_ANSWERED
	Transferred       = assignmentv1.CaseState_CASE_STATE_TRANSFERRED
	ReturnRequested   = assignmentv1.CaseState_CASE_STATE_RETURN_REQUESTED
	Routed            = assignmentv1.CaseState_CASE_STATE_ROUTED
	Declined          = assignmentv1.CaseState_CASE_STATE_DECLINED
	Evaluated         = assignmentv1.CaseState_CASE_STATE_EVALUATED
	ReviewRequested   = assignmentv1.CaseState_CASE_STATE_REVIEW_REQUESTED
	Reviewed          = assignmentv1.CaseState_CASE_STATE_REVIEWED
	ReReviewRequested = assignmentv1.CaseState_CASE_STATE_RE_REVIEW_REQUESTED
	Final             = assignmentv1.CaseState_CASE_STATE_FINAL
	Closed            = assignmentv1.CaseState_CASE_STATE_CLOSED

	Register        = assignmentv1.Action_ACTION_REGISTER
	ReferUp         = assignmentv1.Action_ACTION_REFER_UP
	Transfer        = assignmentv1.Action_ACTION_TRANSFER
	Answer          = assignmentv1.Action_ACTION_ANSWER
	Route           = assignmentv1.Action_ACTION_ROUTE
	SignFor         = assignmentv1.Action_ACTION_SIGN_FOR
	SendBack        = assignmentv1.Action_ACTION_SEND_BACK
	AcceptReturn    = assignmentv1.Action_ACTION_ACCEPT_RETURN
	Escalate        = assignmentv1.Action_ACTION_ESCALATE
	Accept          = assignmentv1.Action_ACTION_ACCEPT
	Decline         = assignmentv1.Action_ACTION_DECLINE
	AssignDown      = assignmentv1.Action_ACTION_ASSIGN_DOWN
	Report          = assignmentv1.Action_ACTION_REPORT
	Extend          = assignmentv1.Action_ACTION_EXTEND
	Evaluate        = assignmentv1.Action_ACTION_EVALUATE
	RequestReview   = assignmentv1.Action_ACTION_REQUEST_REVIEW
	Review          = assignmentv1.Action_ACTION_REVIEW
	RequestReReview = assignmentv1.Action_ACTION_REQUEST_RE_REVIEW
	ReReview        = assignmentv1.Action_ACTION_RE_REVIEW
	Close           = assignmentv1.Action_ACTION_CLOSE
	AddCoHandler    = assignmentv1.Action_ACTION_ADD_CO_HANDLER
	Contribute      = assignmentv1.Action_ACTION_CONTRIBUTE
	ReturnForRework = assignmentv1.Action_ACTION_RETURN_FOR_REWORK
	SetUrgency      = assignmentv1.Action_ACTION_SET_URGENCY
	TakeLead        = assignmentv1.Action_ACTION_TAKE_LEAD
	RecordProgress  = assignmentv1.Action_ACTION_RECORD_PROGRESS
	StartHearing    = assignmentv1.Action_ACTION_START_HEARING
	EndHearing      = assignmentv1.Action_ACTION_END_HEARING
	Reopen          = assignmentv1.Action_ACTION_REOPEN
	DeadlineMoved   = assignmentv1.Action_ACTION_DEADLINE_MOVED
)

// Same as a rule's To keeps the state (a report, an extension).
const Same State = 0

// Actor says which office, among those of the right kind, may take an action.
type Actor int

// Actors.
const (
	// Holder: the office responsible for the case (首办负责: it stays so until
	// another signs for it).
	Holder Actor = iota + 1
	// Receiver: the organ a transfer waits on (pending_office).
	Receiver
	// Anyone who may see the case: the office that received the petitioner's
	// evaluation or request for the next instance records it.
	Anyone
	// HolderOrBureau: the holder, or the county petition bureau supervising.
	HolderOrBureau
	// CoHandler: a co-handling department (协办).
	CoHandler
)

// Rule is one row of the table.
type Rule struct {
	From []State
	To   State
	By   []directory.Kind
	Who  Actor
}

var (
	county     = []directory.Kind{directory.Township, directory.Bureau, directory.Department}
	everyone   = []directory.Kind{directory.Township, directory.Bureau, directory.Department, directory.Prefecture}
	bureauDept = []directory.Kind{directory.Bureau, directory.Department}
	reviewers  = []directory.Kind{directory.Bureau, directory.Prefecture}
	bureauOnly = []directory.Kind{directory.Bureau}
	// live are the states of a case not yet ended (declined, final, closed).
	live = []State{Registered, Transferred, ReturnRequested, Routed, InHandling, Answered, Evaluated, ReviewRequested, Reviewed, ReReviewRequested}
)

// Rules is the state machine. The registration (ACTION_REGISTER) is not a
// transition: it creates the case in Registered. Escalation is not taken by
// a caller: a send-back that makes a case bounce too often becomes one.
var Rules = map[Action]Rule{
	// 上报: a township hands a case it cannot resolve to the county bureau.
	ReferUp: {From: []State{Registered}, To: Registered, By: []directory.Kind{directory.Township}, Who: Holder},
	// 分类转送: the bureau's routing decision by class.
	Route: {From: []State{Registered}, To: Transferred, By: []directory.Kind{directory.Bureau}, Who: Holder},
	// 转送: to another organ, which must sign for it.
	Transfer: {From: []State{Registered, Routed, InHandling, ReturnRequested}, To: Transferred, By: bureauDept, Who: Holder},
	// 签收 and 退回: the organ the transfer waits on.
	SignFor:  {From: []State{Transferred}, To: Routed, By: county, Who: Receiver},
	SendBack: {From: []State{Transferred}, To: ReturnRequested, By: county, Who: Receiver},
	// 同意退回: the sender takes the case back.
	AcceptReturn: {From: []State{ReturnRequested}, To: Registered, By: bureauDept, Who: Holder},
	// 受理 / 不予受理.
	Accept:  {From: []State{Registered, Routed}, To: InHandling, By: county, Who: Holder},
	Decline: {From: []State{Registered, Routed}, To: Declined, By: county, Who: Holder},
	// 交办: the county assigns down to a township, which must accept it.
	AssignDown: {From: []State{Registered}, To: Routed, By: []directory.Kind{directory.Bureau}, Who: Holder},
	// 办结报告: the township reports on what the county assigned.
	Report: {From: []State{InHandling, Answered}, To: Same, By: []directory.Kind{directory.Township}, Who: Holder},
	// 延期.
	Extend: {From: []State{InHandling}, To: Same, By: county, Who: Holder},
	// 答复.
	Answer: {From: []State{InHandling}, To: Answered, By: county, Who: Holder},
	// 满意度评价.
	Evaluate: {From: []State{Answered}, To: Evaluated, By: everyone, Who: Anyone},
	// 复查 → 复核 → 三级终结.
	RequestReview:   {From: []State{Answered, Evaluated}, To: ReviewRequested, By: everyone, Who: Anyone},
	Review:          {From: []State{ReviewRequested}, To: Reviewed, By: reviewers, Who: Holder},
	RequestReReview: {From: []State{Reviewed}, To: ReReviewRequested, By: everyone, Who: Anyone},
	ReReview:        {From: []State{ReReviewRequested}, To: Final, By: reviewers, Who: Holder},
	// 听证: its time does not count toward the re-review period.
	StartHearing: {From: []State{ReReviewRequested}, To: Same, By: reviewers, Who: Holder},
	EndHearing:   {From: []State{ReReviewRequested}, To: Same, By: reviewers, Who: Holder},
	// 纠正: the bureau reopens a case declined in error; the holder decides
	// again.
	Reopen: {From: []State{Declined}, To: Registered, By: bureauOnly, Who: Anyone},
	// 办结.
	Close: {From: []State{Answered, Evaluated, Reviewed}, To: Closed, By: everyone, Who: HolderOrBureau},
	// 主办 / 协办.
	AddCoHandler: {From: []State{Routed, InHandling}, To: Same, By: county, Who: HolderOrBureau},
	Contribute:   {From: []State{InHandling}, To: Same, By: county, Who: CoHandler},
	// 退回重办: the bureau supervises every answer of the county.
	ReturnForRework: {From: []State{Answered, Evaluated}, To: InHandling, By: bureauOnly, Who: Anyone},
	// 紧急.
	SetUrgency: {From: live, To: Same, By: county, Who: HolderOrBureau},
	// 包案 and its card (the method checks who is in charge).
	TakeLead:       {From: live, To: Same, By: bureauOnly, Who: Anyone},
	RecordProgress: {From: live, To: Same, By: everyone, Who: Anyone},
}

// Errors of Check.
var (
	ErrState      = errors.New("the case's state does not allow this action")
	ErrNotHolder  = errors.New("only the office holding the case may do this")
	ErrNotPending = errors.New("only the organ the transfer waits on may do this")
	ErrKind       = errors.New("this kind of office may not do this")
	ErrNotCo      = errors.New("only a co-handling department may do this")
)

// Party is what Check needs of the caller's relation to the case.
type Party struct {
	Kind     directory.Kind
	Holder   bool // the caller's office holds the case
	Receiver bool // the caller's office is the one a transfer waits on
	Co       bool // the caller's office co-handles the case (协办)
}

// Check says whether party may take action on a case in state from; it
// returns the state after the move.
func Check(action Action, from State, p Party) (State, error) {
	r, ok := Rules[action]
	if !ok {
		return from, fmt.Errorf("lifecycle: unknown action %v", action)
	}
	if !slices.Contains(r.By, p.Kind) {
		return from, ErrKind
	}
	switch r.Who {
	case Holder:
		if !p.Holder {
			return from, ErrNotHolder
		}
	case Receiver:
		if !p.Receiver {
			return from, ErrNotPending
		}
	case HolderOrBureau:
		if !p.Holder && p.Kind != directory.Bureau {
			return from, ErrNotHolder
		}
	case CoHandler:
		if !p.Co {
			return from, ErrNotCo
		}
	}
	if !slices.Contains(r.From, from) {
		return from, ErrState
	}
	if r.To == Same {
		return from, nil
	}
	return r.To, nil
}

// Open reports whether a case in state s still waits on someone: it belongs
// in a queue.
func Open(s State) bool {
	switch s {
	case Declined, Final, Closed:
		return false
	}
	return true
}
