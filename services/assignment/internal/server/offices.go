package server

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"

	directoryv1 "github.com/tongban/tongban/proto/tongban/directory/v1"
	"github.com/tongban/tongban/services/assignment/internal/store"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/precondition"
)

// Offices implements tongban.directory.v1.OfficeService over the offices
// table, and keeps Dir (which routing, authentication and every check of
// this process read) at the table's revision.
type Offices struct {
	directoryv1.UnimplementedOfficeServiceServer
	Store *store.Store
	Dir   *directory.Directory
}

// Load adds the directory file's offices the table lacks, then makes Dir
// the table's offices.
func (o *Offices) Load(ctx context.Context) error {
	if err := o.Store.SeedOffices(ctx, o.Dir.County.Code, o.Dir.Offices()); err != nil {
		return err
	}
	return o.Refresh(ctx)
}

// Refresh makes Dir the table's offices when the table is newer.
func (o *Offices) Refresh(ctx context.Context) error {
	rows, rev, err := o.Store.Offices(ctx, o.Dir.County.Code)
	if err != nil {
		return err
	}
	offices := make([]directory.Office, len(rows))
	for i, r := range rows {
		offices[i] = r.Office
	}
	return o.Dir.Replace(offices, rev)
}

// Run refreshes Dir every interval, for the changes other replicas make.
func (o *Offices) Run(ctx context.Context, every time.Duration) error {
	return directory.Poll(ctx, o.Dir, every, o.Refresh)
}

// ListOffices lists the county's offices; anyone signed in may.
func (o *Offices) ListOffices(ctx context.Context, _ *directoryv1.ListOfficesRequest) (*directoryv1.ListOfficesResponse, error) {
	if _, err := auth.Require(ctx); err != nil {
		return nil, err
	}
	rows, rev, err := o.Store.Offices(ctx, o.Dir.County.Code)
	if err != nil {
		return nil, fault.Hide(err)
	}
	out := &directoryv1.ListOfficesResponse{Revision: rev, County: o.Dir.County.Code}
	for _, r := range rows {
		out.Offices = append(out.Offices, directory.ToProto(r.Office, r.Revision, r.UpdateTime))
	}
	return out, nil
}

// GetOffice returns one office; anyone signed in may.
func (o *Offices) GetOffice(ctx context.Context, req *directoryv1.GetOfficeRequest) (*directoryv1.GetOfficeResponse, error) {
	if _, err := auth.Require(ctx); err != nil {
		return nil, err
	}
	id, ok := names.OfficeID(req.GetName())
	if !ok {
		var v fault.Violations
		v.Add("name", `must be "offices/{id}", e.g. "offices/330421.zjj"`)
		return nil, v.Err()
	}
	out, err := o.Store.Office(ctx, o.Dir.County.Code, id)
	if err != nil {
		return nil, officeError(err, id)
	}
	return &directoryv1.GetOfficeResponse{Office: directory.ToProto(out.Office, out.Revision, out.UpdateTime)}, nil
}

var (
	officeIDPattern = regexp.MustCompile(`^[0-9]{6}\.[a-z][a-z0-9-]{1,29}$`)
	knownDuties     = []string{directory.DutyDiscipline, directory.DutyPoliticsLaw}
)

const maxOfficeName = 100

// CreateOffice adds an office (administrators).
func (o *Offices) CreateOffice(ctx context.Context, req *directoryv1.CreateOfficeRequest) (*directoryv1.CreateOfficeResponse, error) {
	if _, err := policy.Require(ctx, policy.Administer); err != nil {
		return nil, err
	}
	county := o.Dir.County.Code
	want := directory.FromProto(req.GetOffice())
	want.ID, want.Name, want.Closed = req.GetOfficeId(), strings.TrimSpace(want.Name), false
	var v fault.Violations
	switch want.Kind {
	case "":
		v.Add("office.kind", "is required: OFFICE_KIND_TOWNSHIP, OFFICE_KIND_DEPARTMENT or OFFICE_KIND_PREFECTURE")
	case directory.Bureau:
		v.Add("office.kind", "must not be OFFICE_KIND_BUREAU: the county has its petition bureau already")
	case directory.Township:
		if len(want.ID) != 9 || !strings.HasPrefix(want.ID, county) || strings.Trim(want.ID, "0123456789") != "" {
			v.Add("office_id", "a township's id is its 9-digit division code within county "+county+`, e.g. "`+county+`104"`)
		}
	case directory.Department:
		if !officeIDPattern.MatchString(want.ID) || !strings.HasPrefix(want.ID, county+".") {
			v.Add("office_id", `a department's id is "`+county+`.{abbreviation}" in lower-case letters and digits, e.g. "`+county+`.yjj"`)
		}
	case directory.Prefecture:
		if !officeIDPattern.MatchString(want.ID) {
			v.Add("office_id", `the prefecture bureau's id is "{prefecture code}.{abbreviation}", e.g. "330400.xfj"`)
		}
	}
	checkOffice(&v, want)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *store.Office
	err := o.change(ctx, func(tx pgx.Tx) (string, error) {
		existing, err := o.Store.LockOffice(ctx, tx, county, want.ID)
		switch {
		case err == nil && sameOffice(existing.Office, want):
			out = existing // a retry of the same creation
			return "", nil
		case err == nil:
			return "", fault.New(fault.AlreadyExists, "OFFICE_EXISTS", "office "+want.ID+" exists already ("+existing.Name+")", "office", want.Resource())
		case !errors.Is(err, store.ErrOfficeNotFound):
			return "", err
		}
		out, err = o.Store.InsertOffice(ctx, tx, county, want)
		if errors.Is(err, store.ErrOfficeExists) {
			return "", fault.New(fault.AlreadyExists, "PREFECTURE_EXISTS", "the county already has its prefecture bureau", "office", want.Resource())
		}
		return fmt.Sprintf("create office=%s kind=%s duties=%s", want.ID, want.Kind, strings.Join(want.Duties, ",")), err
	})
	if err != nil {
		return nil, officeError(err, want.ID)
	}
	return &directoryv1.CreateOfficeResponse{Office: directory.ToProto(out.Office, out.Revision, out.UpdateTime)}, nil
}

// UpdateOffice changes an office's name, duties or closed flag
// (administrators).
func (o *Offices) UpdateOffice(ctx context.Context, req *directoryv1.UpdateOfficeRequest) (*directoryv1.UpdateOfficeResponse, error) {
	if _, err := policy.Require(ctx, policy.Administer); err != nil {
		return nil, err
	}
	var v fault.Violations
	id, ok := names.OfficeID(req.GetOffice().GetName())
	if !ok {
		v.Add("office.name", `must be "offices/{id}", e.g. "offices/330421.zjj"`)
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		paths = []string{"display_name", "duties", "closed"}
	}
	for _, p := range paths {
		if !slices.Contains([]string{"display_name", "duties", "closed"}, p) {
			v.Add("update_mask", "may name display_name, duties and closed, not "+p)
		}
	}
	want := precondition.Etag(ctx, req.GetOffice().GetEtag(), &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	given := directory.FromProto(req.GetOffice())
	var out *store.Office
	err := o.change(ctx, func(tx pgx.Tx) (string, error) {
		cur, err := o.Store.LockOffice(ctx, tx, o.Dir.County.Code, id)
		if err != nil {
			return "", err
		}
		if want != "" && want != directory.Etag(cur.Revision) {
			return "", fault.New(fault.Aborted, "ETAG_MISMATCH", "the office changed since you read it: reload it and try again", "etag", directory.Etag(cur.Revision))
		}
		next := cur.Office
		for _, p := range paths {
			switch p {
			case "display_name":
				next.Name = strings.TrimSpace(given.Name)
			case "duties":
				next.Duties = given.Duties
			case "closed":
				next.Closed = given.Closed
			}
		}
		var v fault.Violations
		checkOffice(&v, next)
		if next.Closed && next.Kind == directory.Bureau {
			v.Add("office.closed", "the county petition bureau cannot be closed")
		}
		if err := v.Err(); err != nil {
			return "", err
		}
		if sameOffice(cur.Office, next) && cur.Closed == next.Closed { // nothing to change
			out = cur
			return "", nil
		}
		out, err = o.Store.UpdateOffice(ctx, tx, o.Dir.County.Code, next)
		return fmt.Sprintf("update office=%s fields=%s closed=%t", id, strings.Join(paths, ","), next.Closed), err
	})
	if err != nil {
		return nil, officeError(err, id)
	}
	return &directoryv1.UpdateOfficeResponse{Office: directory.ToProto(out.Office, out.Revision, out.UpdateTime)}, nil
}

// change runs fn in a transaction, audits what it did (fn returns the
// audit detail, "" for no change), and brings Dir to the new revision.
func (o *Offices) change(ctx context.Context, fn func(tx pgx.Tx) (string, error)) error {
	changed := false
	err := pgdb.InTx(ctx, o.Store.Pool, func(tx pgx.Tx) error {
		detail, err := fn(tx)
		if err != nil || detail == "" {
			return err
		}
		changed = true
		return audit.Append(ctx, tx, audit.FromCall(ctx, audit.Directory, "", "", detail))
	})
	if err != nil || !changed {
		return err
	}
	return o.Refresh(ctx)
}

// checkOffice checks what every office must have: a name, known duties
// (on departments only).
func checkOffice(v *fault.Violations, o directory.Office) {
	name := strings.TrimSpace(o.Name)
	switch {
	case name == "":
		v.Add("office.display_name", "is required, e.g. 嘉善县应急管理局")
	case len([]rune(name)) > maxOfficeName:
		v.Add("office.display_name", fmt.Sprintf("must be at most %d characters", maxOfficeName))
	case strings.ContainsFunc(name, unicode.IsControl):
		v.Add("office.display_name", "must not contain control characters")
	}
	for i, d := range o.Duties {
		switch {
		case !slices.Contains(knownDuties, d):
			v.Add(fmt.Sprintf("office.duties[%d]", i), `must be "discipline" or "politics-law"`)
		case slices.Index(o.Duties, d) != i:
			v.Add(fmt.Sprintf("office.duties[%d]", i), "is listed twice")
		case o.Kind != directory.Department:
			v.Add(fmt.Sprintf("office.duties[%d]", i), "only departments carry duties")
		}
	}
}

func sameOffice(a, b directory.Office) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Kind == b.Kind && slices.Equal(a.Duties, b.Duties)
}

func officeError(err error, id string) error {
	if _, ok := fault.As(err); ok {
		return err
	}
	switch {
	case errors.Is(err, store.ErrOfficeNotFound):
		return fault.New(fault.NotFound, "OFFICE_NOT_FOUND", "no office "+id+" in this county", "office", names.Office(id))
	default:
		return fault.Hide(err)
	}
}
