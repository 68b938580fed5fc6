package server

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	directoryv1 "github.com/tongban/tongban/proto/tongban/directory/v1"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/devkit/authtest"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

func department(id, name string, duties ...string) *directoryv1.CreateOfficeRequest {
	return &directoryv1.CreateOfficeRequest{OfficeId: id, Office: &directoryv1.Office{
		DisplayName: name, Kind: directoryv1.OfficeKind_OFFICE_KIND_DEPARTMENT, Duties: duties,
	}}
}

// TestOffices administers the directory: the file seeds it once, bad
// offices are refused field by field, only administrators change it, a
// created office can be routed to at once, a closed one no longer, and
// every change is in the audit log.
func TestOffices(t *testing.T) {
	t.Parallel()
	s, _ := registered(t)
	offices := &Offices{Store: s.Store, Dir: s.Dir}
	admin := authtest.AsAccount(t, "330421.xfj", "admin", "admin")
	for range 2 { // a restart seeds nothing twice
		if err := offices.Load(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	list, err := offices.ListOffices(authtest.As(t, "demo-dayun"), &directoryv1.ListOfficesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(directory.Demo().Offices()); len(list.Offices) != n || list.Revision != int64(n) || list.County != "330421" {
		t.Fatalf("listed %d offices at revision %d of county %q, want the file's %d", len(list.Offices), list.Revision, list.County, n)
	}
	if first := list.Offices[0]; first.Name != "offices/330421.xfj" || first.Kind != directoryv1.OfficeKind_OFFICE_KIND_BUREAU || first.Etag == "" {
		t.Errorf("first office = %v, want the bureau with an etag", first)
	}

	t.Run("refusals", func(t *testing.T) {
		for name, tc := range map[string]struct {
			req   *directoryv1.CreateOfficeRequest
			field string
		}{
			"no_kind":          {&directoryv1.CreateOfficeRequest{OfficeId: "330421.yjj", Office: &directoryv1.Office{DisplayName: "应急管理局"}}, "office.kind"},
			"second_bureau":    {&directoryv1.CreateOfficeRequest{OfficeId: "330421.xfj2", Office: &directoryv1.Office{DisplayName: "x", Kind: directoryv1.OfficeKind_OFFICE_KIND_BUREAU}}, "office.kind"},
			"township_code":    {&directoryv1.CreateOfficeRequest{OfficeId: "330422104", Office: &directoryv1.Office{DisplayName: "某镇", Kind: directoryv1.OfficeKind_OFFICE_KIND_TOWNSHIP}}, "office_id"},
			"department_id":    {department("330421.YJJ", "应急管理局"), "office_id"},
			"other_county":     {department("330422.yjj", "应急管理局"), "office_id"},
			"no_name":          {department("330421.yjj", "  "), "office.display_name"},
			"unknown_duty":     {department("330421.yjj", "应急管理局", "watch-list"), "office.duties[0]"},
			"duty_twice":       {department("330421.yjj", "应急管理局", "discipline", "discipline"), "office.duties[1]"},
			"township_duty":    {&directoryv1.CreateOfficeRequest{OfficeId: "330421104", Office: &directoryv1.Office{DisplayName: "某镇", Kind: directoryv1.OfficeKind_OFFICE_KIND_TOWNSHIP, Duties: []string{"discipline"}}}, "office.duties[0]"},
			"control_in_name":  {department("330421.yjj", "应急\x07管理局"), "office.display_name"},
			"name_too_long":    {department("330421.yjj", string(make([]rune, 101))), "office.display_name"},
			"prefecture_ident": {&directoryv1.CreateOfficeRequest{OfficeId: "嘉兴", Office: &directoryv1.Office{DisplayName: "x", Kind: directoryv1.OfficeKind_OFFICE_KIND_PREFECTURE}}, "office_id"},
		} {
			_, err := offices.CreateOffice(admin, tc.req)
			if rpcerr.Code(err) != codes.InvalidArgument || !slices.Contains(rpcerr.Fields(err), tc.field) {
				t.Errorf("%s: %v (fields %v), want INVALID_ARGUMENT on %s", name, err, rpcerr.Fields(err), tc.field)
			}
		}
		_, err := offices.CreateOffice(authtest.As(t, "demo-bureau"), department("330421.yjj", "嘉善县应急管理局"))
		if rpcerr.Code(err) != codes.PermissionDenied {
			t.Errorf("a bureau clerk created an office: %v", err)
		}
		_, err = offices.CreateOffice(admin, &directoryv1.CreateOfficeRequest{OfficeId: "330499.xfj", Office: &directoryv1.Office{DisplayName: "另一个市信访局", Kind: directoryv1.OfficeKind_OFFICE_KIND_PREFECTURE}})
		if rpcerr.Reason(err) != "PREFECTURE_EXISTS" {
			t.Errorf("a second prefecture bureau: %v", err)
		}
		_, err = offices.UpdateOffice(admin, &directoryv1.UpdateOfficeRequest{Office: &directoryv1.Office{Name: "offices/330421.xfj", Closed: true},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"closed"}}})
		if rpcerr.Code(err) != codes.InvalidArgument {
			t.Errorf("closing the bureau: %v", err)
		}
		_, err = offices.UpdateOffice(admin, &directoryv1.UpdateOfficeRequest{Office: &directoryv1.Office{Name: "offices/330421.nope", DisplayName: "x"}})
		if rpcerr.Code(err) != codes.NotFound {
			t.Errorf("updating a missing office: %v", err)
		}
	})

	// A new department: usable at once by this process.
	created, err := offices.CreateOffice(admin, department("330421.yjj", " 嘉善县应急管理局 "))
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := s.Dir.Office("330421.yjj"); !ok || o.Name != "嘉善县应急管理局" || o.Kind != directory.Department {
		t.Fatalf("directory after creation: %+v %v", o, ok)
	}
	again, err := offices.CreateOffice(admin, department("330421.yjj", "嘉善县应急管理局"))
	if err != nil || again.Office.Etag != created.Office.Etag {
		t.Errorf("retrying the creation: %v, %v (etag %s, want %s)", again, err, again.GetOffice().GetEtag(), created.Office.Etag)
	}
	if _, err := offices.CreateOffice(admin, department("330421.yjj", "另一个局")); rpcerr.Reason(err) != "OFFICE_EXISTS" {
		t.Errorf("another office with the id: %v", err)
	}
	bureau := authtest.As(t, "demo-bureau")
	route := func(to string) error {
		_, err := s.RouteCase(bureau, &assignmentv1.RouteCaseRequest{Name: caseName, ToOffice: to, Reason: "按职责转送"})
		return err
	}
	if _, err := s.ReferCaseUp(authtest.As(t, "demo-dayun"), &assignmentv1.ReferCaseUpRequest{Name: caseName, Reason: "需县级部门处理"}); err != nil {
		t.Fatal(err)
	}

	// Closed: no longer a target; a stale etag is refused first.
	_, err = offices.UpdateOffice(admin, &directoryv1.UpdateOfficeRequest{
		Office:     &directoryv1.Office{Name: "offices/330421.yjj", Closed: true, Etag: `"1"`},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"closed"}},
	})
	if rpcerr.Code(err) != codes.Aborted {
		t.Errorf("stale etag: %v", err)
	}
	closed, err := offices.UpdateOffice(admin, &directoryv1.UpdateOfficeRequest{
		Office:     &directoryv1.Office{Name: "offices/330421.yjj", Closed: true, Etag: created.Office.Etag},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"closed"}},
	})
	if err != nil || !closed.Office.Closed || closed.Office.DisplayName != "嘉善县应急管理局" {
		t.Fatalf("closing: %v, %v", closed, err)
	}
	if err := route("offices/330421.yjj"); rpcerr.Code(err) != codes.InvalidArgument || !slices.Contains(rpcerr.Fields(err), "to_office") {
		t.Errorf("routing to a closed office: %v", err)
	}
	if _, err := offices.UpdateOffice(admin, &directoryv1.UpdateOfficeRequest{
		Office: &directoryv1.Office{Name: "offices/330421.yjj", Closed: false}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"closed"}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := route("offices/330421.yjj"); err != nil {
		t.Errorf("routing to the reopened office: %v", err)
	}

	// Another replica learns of the changes from the table.
	other := &Offices{Store: s.Store, Dir: directory.Demo()}
	if err := other.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if o, ok := other.Dir.Office("330421.yjj"); !ok || o.Closed {
		t.Errorf("another replica's directory: %+v %v", o, ok)
	}
	got, err := offices.GetOffice(bureau, &directoryv1.GetOfficeRequest{Name: "offices/330421.yjj"})
	if err != nil || got.Office.Kind != directoryv1.OfficeKind_OFFICE_KIND_DEPARTMENT {
		t.Errorf("get: %v, %v", got, err)
	}
	all, err := audit.List(context.Background(), s.Store.Pool, audit.Filter{Office: "330421.xfj", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, e := range all {
		if e.Action == audit.Directory && e.Role == "admin" {
			changes = append(changes, e.Detail)
		}
	}
	if len(changes) != 3 {
		t.Errorf("audit entries of the directory = %q, want create, close, reopen by the bureau's admin", changes)
	}
}
