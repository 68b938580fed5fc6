// Package policy is who may see and do what in Tongban, in one place that
// every service and the gateway use:
//
//   - a role dimension (what a clerk, handler, leader, administrator, outside
//     system or internal service may do at all: register, move cases, record
//     a led case's progress, see figures, read the internal feeds, read the
//     audit log, administer accounts);
//   - visibility of a case (the bureau sees its county; any other office the
//     cases it registered, holds or held, or is asked to take; a leader the
//     cases they lead, 包案, and no others);
//   - the moves of a case, from the lifecycle table (which kinds of office,
//     and which of them: holder, receiver of a transfer, co-handler).
//
// Decide applies them in that order, visibility first, so a caller who may
// not see a case learns nothing of it (the same answer as a missing case).
// testdata/matrix.txt is the whole matrix (role × office × action × case),
// checked by a test; read it to review the policy.
package policy

import (
	"context"
	"errors"
	"slices"

	"github.com/tongban/tongban/services/assignment/lifecycle"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
)

// Verb is something a role may or may not do at all.
type Verb string

// Verbs.
const (
	Register   Verb = "register"        // register petitions at its office
	Move       Verb = "move"            // take the lifecycle's actions on cases
	Progress   Verb = "record-progress" // record progress on a case (包案 card)
	SeeFigures Verb = "see-figures"     // the dashboards and exports
	ReadFeeds  Verb = "read-feeds"      // the services' internal event feeds
	ReadAudit  Verb = "read-audit"      // the audit log (at the bureau)
	Administer Verb = "administer"      // accounts and API keys (at the bureau)
	Configure  Verb = "configure"       // the county's calendar: holiday notices, local days off
	// LookupIdentity: look earlier cases up by a petitioner's ID number or
	// phone, at the counter (people, not outside systems).
	LookupIdentity Verb = "lookup-identity"
)

// Verbs lists every verb, in the matrix's order.
var Verbs = []Verb{Register, Move, Progress, SeeFigures, ReadFeeds, ReadAudit, Administer, Configure, LookupIdentity}

// Roles lists every role, in the matrix's order.
var Roles = []string{"clerk", "handler", "leader", "admin", "system", auth.RoleService}

var roleVerbs = map[string][]Verb{
	"clerk":          {Register, Move, Progress, SeeFigures, ReadAudit, Configure, LookupIdentity},
	"handler":        {Register, Move, Progress, SeeFigures, LookupIdentity},
	RoleLeader:       {Progress, SeeFigures},
	"admin":          {Register, Move, Progress, SeeFigures, ReadAudit, Administer, Configure, LookupIdentity},
	"system":         {Register, Move},
	auth.RoleService: {ReadFeeds},
}

// bureauOnly are the verbs that need the county petition bureau besides
// the role.
var bureauOnly = map[Verb]bool{ReadAudit: true, Administer: true}

// May says whether caller's role and office allow v at all.
func May(c auth.Caller, v Verb) bool {
	if bureauOnly[v] && c.Office.Kind != directory.Bureau {
		return false
	}
	return slices.Contains(roleVerbs[c.Role], v)
}

// Require returns the caller of ctx when it may v, PermissionDenied
// (ROLE_NOT_ALLOWED) otherwise.
func Require(ctx context.Context, v Verb) (auth.Caller, error) {
	c, err := auth.Require(ctx)
	if err != nil {
		return c, err
	}
	if !May(c, v) {
		return c, fault.New(fault.PermissionDenied, "ROLE_NOT_ALLOWED", "a "+c.Role+" of this office may not "+string(v))
	}
	return c, nil
}

// CanSeeCase is the visibility rule: the county petition bureau sees every
// case of its county; any other office sees a case only when it registered
// it, holds or held it, or is asked to take it; a leader sees the cases
// they lead, whatever their office. involved lists those parties as
// Principal names them: offices' ids, and leaders' accounts. A township
// never sees another township's cases.
func CanSeeCase(c auth.Caller, county string, involved []string) bool {
	if c.County != county {
		return false
	}
	if SeesCounty(c) {
		return true
	}
	p := Principal(c)
	return p != "" && slices.Contains(involved, p)
}

// RoleLeader is the role of leaders: they see the cases they lead (包案)
// and the dashboards of their office.
const RoleLeader = "leader"

// Principal is the entry of a case's involved list that lets c see it:
// the office's id, or for a leader "accounts/{username}" ("" for a leader
// without an account, who sees no case).
func Principal(c auth.Caller) string {
	if c.Role == RoleLeader {
		if c.Account == "" {
			return ""
		}
		return AccountPrincipal(c.Account)
	}
	return c.Office.ID
}

// AccountPrincipal is how an account is listed among a case's involved
// parties: "accounts/{username}".
func AccountPrincipal(username string) string { return "accounts/" + username }

// SeesIdentity is the one rule for whether c sees a case's petitioners in
// clear (name, ID number, phone): only the office that registered the case,
// which took the identity at its counter, and never the internal service
// role. Every other office sees them masked, and an accusation's accuser
// not at all (信访工作条例 第三十条: 对检举控告人的信息予以保密). Every read that
// shows identity, or answers a question about it (FindRepeats), asks this.
func SeesIdentity(c auth.Caller, registeredBy string) bool {
	o := IdentityOffice(c)
	return o != "" && o == registeredBy
}

// IdentityOffice is the one office whose registrations c sees with their
// identity (SeesIdentity), "" for none: a query that answers about an
// identity (FindRepeats' pages) selects by it in SQL, then asks
// SeesIdentity of each row as every read does.
func IdentityOffice(c auth.Caller) string {
	if c.Role == auth.RoleService {
		return ""
	}
	return c.Office.ID
}

// SeesCounty reports whether c sees every case of its county: the county
// petition bureau's staff (not its leaders, who see what they lead).
func SeesCounty(c auth.Caller) bool {
	return c.Office.Kind == directory.Bureau && c.Role != RoleLeader
}

// ForOffice reports whether c may read an office's own lists (queue,
// deadlines, reminders, notices, agenda): its own office's, or any office's
// for the county petition bureau.
func ForOffice(c auth.Caller, office string) bool {
	if c.Role == RoleLeader { // a leader sees the cases they lead, not an office's work
		return false
	}
	return c.Office.ID == office || SeesCounty(c)
}

// Case is what a decision about a move needs to know of the case.
type Case struct {
	County     string
	Involved   []string // offices that registered, held or are asked to take it
	State      lifecycle.State
	Holder     string   // office id
	Pending    string   // the office a transfer waits on
	CoHandlers []string // office ids
}

// Errors of Decide besides the lifecycle's.
var (
	ErrNotVisible = errors.New("policy: the caller may not see the case")
	ErrRole       = errors.New("policy: the caller's role may not do this")
)

// VerbOf is the verb a lifecycle action needs: recording progress on a
// led case, or moving it.
func VerbOf(action lifecycle.Action) Verb {
	if action == lifecycle.RecordProgress {
		return Progress
	}
	return Move
}

// Decide says whether caller may take action on case k, and the state
// after it: ErrNotVisible first (answer as for a missing case), then ErrRole,
// then the lifecycle's refusals (kind of office, holder, state).
func Decide(c auth.Caller, action lifecycle.Action, k Case) (lifecycle.State, error) {
	if !CanSeeCase(c, k.County, k.Involved) {
		return k.State, ErrNotVisible
	}
	if !May(c, VerbOf(action)) {
		return k.State, ErrRole
	}
	return lifecycle.Check(action, k.State, lifecycle.Party{
		Kind: c.Office.Kind, Holder: c.Office.ID == k.Holder, Receiver: k.Pending != "" && c.Office.ID == k.Pending,
		Co: slices.Contains(k.CoHandlers, c.Office.ID),
	})
}
