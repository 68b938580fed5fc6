// Package lifecycle is assignment's state machine: one table saying which
// action moves a case from which states to which, and which kinds of office
// may take it. docs/lifecycle.md draws the same table; a test keeps the two
// in step.
package lifecycle

import (
	"errors"
	"fmt"
	"slices"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	"github.com/tongban/tongban/services/platform/directory"
)

// State and Action are the proto enums.
type (
	State  = assignmentv1.CaseState
	Action = assignmentv1.Action
)

// Shorter names for the table.
const (
	Registered = assignmentv1.CaseState_CASE_STATE_REGISTERED
	InHandling = assignmentv1.CaseState_CASE_STATE_IN_HANDLING
	Answered   = assignmentv1.CaseState_CASE_STATE_ANSWERED

	ReferUp  = assignmentv1.Action_ACTION_REFER_UP
	Transfer = assignmentv1.Action_ACTION_TRANSFER
	Answer   = assignmentv1.Action_ACTION_ANSWER
)

// Rule is one row of the table.
type Rule struct {
	From []State
	To   State
	// By lists the kinds of office that may take the action; the caller must
	// also hold the case (首办负责: the holder is responsible until another
	// office takes it).
	By []directory.Kind
}

// Rules is the state machine. The registration entry (ACTION_REGISTER) is
// not a transition: it creates the case in Registered.
var Rules = map[Action]Rule{
	// 上报: a township hands a case it cannot resolve to the county bureau.
	ReferUp: {From: []State{Registered}, To: Registered, By: []directory.Kind{directory.Township}},
	// 转送: the bureau (or a department that finds the case is not its own)
	// transfers it to the responsible department.
	Transfer: {From: []State{Registered, InHandling}, To: InHandling, By: []directory.Kind{directory.Bureau, directory.Department}},
	// 答复: the holder answers in writing. Registered is allowed so that a
	// township can answer what it resolves itself; the assignment issue adds
	// acceptance (受理) before handling.
	Answer: {From: []State{Registered, InHandling}, To: Answered, By: []directory.Kind{directory.Township, directory.Bureau, directory.Department}},
}

// Errors of Check.
var (
	ErrState     = errors.New("the case's state does not allow this action")
	ErrNotHolder = errors.New("only the office holding the case may do this")
	ErrKind      = errors.New("this kind of office may not do this")
)

// Check says whether an office of kind, holding the case or not, may take
// action on a case in state from; it returns the state after the move.
func Check(action Action, from State, kind directory.Kind, holder bool) (State, error) {
	r, ok := Rules[action]
	if !ok {
		return from, fmt.Errorf("lifecycle: unknown action %v", action)
	}
	if !slices.Contains(r.By, kind) {
		return from, ErrKind
	}
	if !holder {
		return from, ErrNotHolder
	}
	if !slices.Contains(r.From, from) {
		return from, ErrState
	}
	return r.To, nil
}
