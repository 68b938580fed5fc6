package policy

// Scope is how a method limits what it answers to what its caller may
// see. Every method of every Tongban service has one (Methods); a test
// enumerates the services registered at each port and fails on a method
// without one, and the services refuse to serve such a method at all.
type Scope string

// Scopes.
const (
	// OneCase: the facts of one case the request names. Unless CanSeeCase,
	// the answer is the one a missing case gets (NotFound), word for word.
	OneCase Scope = "one case (NotFound unless CanSeeCase)"
	// EachCase: a list across cases; every item is of a case CanSeeCase
	// admits, and counts beside the items count only those.
	EachCase Scope = "each case (only those CanSeeCase admits)"
	// OwnOffice: an office's own work lists (ForOffice): its queue, agenda,
	// deadlines, reminders, and the notices of the receptions it hosts.
	OwnOffice Scope = "own office (ForOffice)"
	// Figures: counts over the caller's township, department or county
	// (SeeFigures); no case's number, party or text.
	Figures Scope = "figures (SeeFigures; no case's number, party or text)"
	// Reference: facts of no case: the calendar, the office directory, the
	// published reception days.
	Reference Scope = "reference (no case)"
	// Receipt: the petitioner's own lookup with the receipt's number and
	// query code, rate limited and locked out on guesses.
	Receipt Scope = "receipt (case number and query code)"
	// Internal: between Tongban's processes only (ReadFeeds).
	Internal Scope = "internal (service role only)"
	// Audit: the audit logs, at the bureau (ReadAudit).
	Audit Scope = "audit (ReadAudit)"
	// Accounts: administration of accounts and keys (Administer), or
	// signing in.
	Accounts Scope = "accounts (Administer, or signing in)"
	// Write: a change. Decide (visibility first) or CanSeeCase runs before
	// anything, so a case the caller may not see gets NotFound.
	Write Scope = "write (Decide, visibility first)"
)

// Methods is every method's scope, by its full gRPC name.
var Methods = map[string]Scope{}

func init() {
	for scope, methods := range map[Scope][]string{
		OneCase: {
			"/tongban.intake.v1.IntakeService/GetCase",
			"/tongban.intake.v1.IntakeService/ListAttachments",
			"/tongban.intake.v1.IntakeService/GetAttachmentContent",
			"/tongban.assignment.v1.AssignmentService/ListCaseHistory",
			"/tongban.assignment.v1.AssignmentService/GetCaseCard",
			"/tongban.scheduling.v1.SchedulingService/ListCaseDeadlines",
		},
		EachCase: {
			"/tongban.intake.v1.IntakeService/ListCases",
			"/tongban.intake.v1.IntakeService/FindRepeats",
			"/tongban.events.v1.CaseEventService/ListCaseEvents",
			"/tongban.events.v1.CaseEventService/WatchCaseEvents",
			"/tongban.scheduling.v1.SchedulingService/ListAppointments",
			"/tongban.scheduling.v1.SchedulingService/ListSupervisions",
			"/tongban.reporting.v1.ReportingService/ListDeadlines",
		},
		OwnOffice: {
			"/tongban.assignment.v1.AssignmentService/ListOfficeQueue",
			"/tongban.scheduling.v1.SchedulingService/ListOfficeDeadlines",
			"/tongban.scheduling.v1.SchedulingService/ListReminders",
			"/tongban.scheduling.v1.SchedulingService/ListNotices",
			"/tongban.scheduling.v1.SchedulingService/GetOfficeAgenda",
			"/tongban.scheduling.v1.SchedulingService/GetOfficeAgendaIcs",
		},
		Figures: {
			"/tongban.reporting.v1.ReportingService/GetSummary",
			"/tongban.reporting.v1.ReportingService/GetReport",
			"/tongban.reporting.v1.ReportingService/ExportMonthlyReport",
		},
		Reference: {
			"/tongban.scheduling.v1.SchedulingService/GetCalendarDay",
			"/tongban.scheduling.v1.SchedulingService/ListReceptions",
			"/tongban.directory.v1.OfficeService/ListOffices",
			"/tongban.directory.v1.OfficeService/GetOffice",
		},
		Receipt:  {"/tongban.intake.v1.IntakeService/GetCaseProgress"},
		Internal: {"/tongban.events.v1.EventFeedService/ListEvents", "/tongban.accounts.v1.RevocationService/ListRevocations"},
		Audit:    {"/tongban.audit.v1.AuditService/ListEntries", "/tongban.intake.v1.IntakeService/ListAuditEntries"},
		Accounts: {
			"/tongban.accounts.v1.AccountService/CreateSession",
			"/tongban.accounts.v1.AccountService/CreateAccount",
			"/tongban.accounts.v1.AccountService/ListAccounts",
			"/tongban.accounts.v1.AccountService/DisableAccount",
			"/tongban.accounts.v1.AccountService/RevokeSessions",
			"/tongban.accounts.v1.AccountService/CreateApiKey",
			"/tongban.accounts.v1.AccountService/RevokeApiKey",
		},
		Write: {
			"/tongban.intake.v1.IntakeService/CreateCase",
			"/tongban.intake.v1.IntakeService/UpdateCase",
			"/tongban.intake.v1.IntakeService/ImportCases",
			"/tongban.intake.v1.IntakeService/CreateAttachment",
			"/tongban.intake.v1.IntakeService/LinkRepeat",
			"/tongban.intake.v1.IntakeService/UnlinkRepeat",
			"/tongban.scheduling.v1.SchedulingService/CreateLocalRestDay",
			"/tongban.scheduling.v1.SchedulingService/ImportHolidayNotice",
			"/tongban.scheduling.v1.SchedulingService/CreateReceptionRoster",
			"/tongban.scheduling.v1.SchedulingService/CreateReceptionApplication",
			"/tongban.scheduling.v1.SchedulingService/ClassifyReceptionApplication",
			"/tongban.scheduling.v1.SchedulingService/RecordReceptionMeeting",
			"/tongban.scheduling.v1.SchedulingService/CreateAppointment",
			"/tongban.directory.v1.OfficeService/CreateOffice",
			"/tongban.directory.v1.OfficeService/UpdateOffice",
		},
	} {
		for _, m := range methods {
			Methods[m] = scope
		}
	}
	// Every move of the lifecycle is a write.
	for _, m := range []string{"ReferCaseUp", "TransferCase", "AnswerCase", "RouteCase", "SignForCase", "SendBackCase",
		"AcceptCaseReturn", "AcceptCase", "DeclineCase", "AssignCaseDown", "ReportCase", "ExtendCase", "EvaluateCase",
		"RequestCaseReview", "ReviewCase", "RequestCaseReReview", "ReReviewCase", "CloseCase", "AddCaseCoHandler",
		"ContributeToCase", "ReturnCaseForRework", "SetCaseUrgency", "LeadCase", "RecordCaseProgress",
		"StartCaseHearing", "EndCaseHearing", "ReopenCase"} {
		Methods["/tongban.assignment.v1.AssignmentService/"+m] = Write
	}
}
