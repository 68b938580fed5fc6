package e2e

import (
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

// probes are the requests that ask each read for a case's facts; {case},
// {own}, {month}, {date} and the petitioner's {idNumber}, {phone} and
// {subject} are filled in. A read without a probe fails the test, whatever
// its scope: that it carries no case's facts is for the probe to show.
var probes = map[string][]string{
	"/tongban.intake.v1.IntakeService/GetCase":                   {`{"name": "cases/{case}", "view": "CASE_VIEW_FULL"}`},
	"/tongban.intake.v1.IntakeService/ListAttachments":           {`{"parent": "cases/{case}"}`},
	"/tongban.intake.v1.IntakeService/GetAttachmentContent":      {`{"name": "cases/{case}/attachments/1"}`},
	"/tongban.assignment.v1.AssignmentService/ListCaseHistory":   {`{"parent": "cases/{case}"}`},
	"/tongban.assignment.v1.AssignmentService/GetCaseCard":       {`{"name": "cases/{case}/card"}`},
	"/tongban.scheduling.v1.SchedulingService/ListCaseDeadlines": {`{"parent": "cases/{case}"}`},
	"/tongban.intake.v1.IntakeService/ListCases": {`{}`, `{"township": "330421102", "view": "CASE_VIEW_FULL"}`,
		`{"subjectContains": "{subject}"}`},
	"/tongban.intake.v1.IntakeService/FindRepeats":                 {`{"idNumber": "{idNumber}"}`, `{"phone": "{phone}"}`},
	"/tongban.events.v1.CaseEventService/ListCaseEvents":           {`{}`},
	"/tongban.events.v1.CaseEventService/WatchCaseEvents":          {`{}`},
	"/tongban.scheduling.v1.SchedulingService/ListAppointments":    {`{"month": "{month}"}`},
	"/tongban.scheduling.v1.SchedulingService/ListSupervisions":    {`{"showResolved": true}`},
	"/tongban.reporting.v1.ReportingService/ListDeadlines":         {`{"county": "counties/330421", "status": "DEADLINE_STATUS_AT_RISK"}`, `{"county": "counties/330421", "status": "DEADLINE_STATUS_OVERDUE"}`},
	"/tongban.assignment.v1.AssignmentService/ListOfficeQueue":     {`{"parent": "offices/{own}"}`, `{"parent": "offices/330421102"}`},
	"/tongban.scheduling.v1.SchedulingService/ListOfficeDeadlines": {`{"parent": "offices/{own}"}`, `{"parent": "offices/330421102"}`},
	"/tongban.scheduling.v1.SchedulingService/ListReminders":       {`{"parent": "offices/{own}"}`, `{"parent": "offices/330421102"}`},
	"/tongban.scheduling.v1.SchedulingService/ListNotices":         {`{"parent": "offices/{own}"}`, `{"parent": "offices/330421102"}`},
	"/tongban.scheduling.v1.SchedulingService/GetOfficeAgenda":     {`{"name": "offices/{own}/agenda"}`, `{"name": "offices/330421102/agenda"}`},
	"/tongban.scheduling.v1.SchedulingService/GetOfficeAgendaIcs":  {`{"name": "offices/{own}/agenda"}`, `{"name": "offices/330421102/agenda"}`},
	"/tongban.reporting.v1.ReportingService/GetSummary":            {`{"name": "counties/330421/summary"}`},
	"/tongban.reporting.v1.ReportingService/GetReport":             {`{"county": "counties/330421"}`},
	"/tongban.intake.v1.IntakeService/UpdateCase":                  {`{"case": {"name": "cases/{case}", "subject": "改"}, "updateMask": "subject"}`},
	"/tongban.audit.v1.AuditService/ListEntries":                   {`{}`, `{"case": "cases/{case}"}`},
	"/tongban.intake.v1.IntakeService/ListAuditEntries":            {`{}`, `{"case": "cases/{case}"}`},
	"/tongban.intake.v1.IntakeService/GetCaseProgress":             {`{"name": "cases/{case}", "queryCode": "0000AAAA"}`},
	"/tongban.events.v1.EventFeedService/ListEvents":               {`{}`},
	"/tongban.accounts.v1.RevocationService/ListRevocations":       {`{}`},
	"/tongban.scheduling.v1.SchedulingService/GetCalendarDay":      {`{"name": "calendar/days/{date}"}`},
	"/tongban.scheduling.v1.SchedulingService/ListReceptions":      {`{"fromDate": "{date}", "toDate": "{date}"}`},
	"/tongban.directory.v1.OfficeService/ListOffices":              {`{}`},
	"/tongban.directory.v1.OfficeService/GetOffice":                {`{"name": "offices/330421102"}`},
	"/tongban.reporting.v1.ReportingService/ExportMonthlyReport":   {`{"county": "counties/330421", "month": "{month}", "format": "EXPORT_FORMAT_CSV"}`},
}

// shownToRegistrar are the probes whose answer to the registering office
// shows the case (its number, unless said otherwise): without them,
// seeing nothing would prove nothing.
var shownToRegistrar = map[string]string{
	"GetCase": "", "ListAttachments": "", "ListCaseHistory": "", "ListCaseDeadlines": "CLOCK_KIND_ROUTING",
	"ListCases": "", "FindRepeats": "", "ListCaseEvents": "", "WatchCaseEvents": "", "ListAppointments": "",
	"GetOfficeAgenda": "", "GetOfficeAgendaIcs": "", "GetAttachmentContent": "化粪池外溢照片说明",
}

// noCase are the writes whose request names no case.
var noCase = map[string]bool{
	"CreateCase": true, "ImportCases": true, "CreateLocalRestDay": true, "ImportHolidayNotice": true,
	"CreateReceptionRoster": true, "CreateOffice": true, "UpdateOffice": true,
	"CreateReceptionApplication": true, "ClassifyReceptionApplication": true, "RecordReceptionMeeting": true,
	"CreateAppointment": true,
}

// TestEveryReadIsScoped asks every method of every service, as the
// services list them over gRPC reflection, about a case registered at one
// township, as another township and as a department that never saw it,
// straight at the services' ports. A method that reads one case answers
// word for word as for a case that does not exist; every other read
// answers without the case's number, subject or petitioner; every write
// naming the case answers as for a missing one. A method without a
// visibility scope (policy.Methods), or a read without a probe here,
// fails the test.
func TestEveryReadIsScoped(t *testing.T) {
	s, _, _ := startStack(t)
	c := &client{t: t, base: s.GatewayURL()}
	const subject, name, idNumber, phone = "东云村化粪池外溢（可见性）", "钱秀英", "330421198802153321", "13905731234"
	num := c.do("POST", "/v1/cases?requestId=visibility-seed", "demo-dayun", map[string]any{
		"channel": "CHANNEL_VISIT", "township": "330421102", "caseClass": "CASE_CLASS_CLAIM",
		"subject": subject, "content": "东云村某组化粪池外溢，气味难闻。",
		"petitioners": []any{map[string]any{"displayName": name, "idNumber": idNumber, "phone": phone}},
	}).must(t, 201, "seed").str("caseNumber")
	c.do("POST", "/v1/cases/"+num+"/attachments?requestId=visibility-file", "demo-dayun",
		upload("现场.txt", "text/plain", []byte("化粪池外溢照片说明"))).must(t, 201, "attach")
	c.eventually("the seed reached every service", func() string {
		if d := c.do("GET", "/v1/cases/"+num+"/deadlines", "demo-dayun", nil); !strings.Contains(d.raw, "CLOCK_KIND") {
			return "scheduling: " + d.raw
		}
		if h := c.do("GET", "/v1/cases/"+num+"/history", "demo-dayun", nil); !strings.Contains(h.raw, "ACTION_REGISTER") {
			return "assignment: " + h.raw
		}
		return ""
	})
	tomorrow := time.Now().In(time.FixedZone("CST", 8*3600)).AddDate(0, 0, 1)
	c.do("POST", "/v1/appointments?requestId=visibility-appointment", "demo-dayun", map[string]any{
		"leader": "周建国", "leaderTitle": "镇长", "case": "cases/" + num, "place": "大云镇信访室",
		"startTime": time.Date(tomorrow.Year(), tomorrow.Month(), tomorrow.Day(), 10, 0, 0, 0, tomorrow.Location()).Format(time.RFC3339),
	}).must(t, 200, "appointment")
	const missing = "330421-2026-999999"
	month := tomorrow.Format("2006-01")
	fill := func(tmpl, caseNumber, own string) string {
		return strings.NewReplacer("{case}", caseNumber, "{own}", own, "{month}", month, "{date}", tomorrow.Format(time.DateOnly), "{idNumber}", idNumber,
			"{phone}", phone, "{subject}", subject).Replace(tmpl)
	}
	secrets := []string{num, subject, name, idNumber, phone}

	seen := map[string]bool{}
	probed := map[string]bool{}
	for _, svcName := range []string{"intake", "assignment", "scheduling", "reporting", "gateway"} {
		conn, err := grpc.NewClient(s.GRPCAddr(svcName), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, method := range registered(t, conn) {
			seen[method] = true
			scope, ok := policy.Methods[method]
			if !ok {
				t.Errorf("%s (at %s) has no visibility scope in policy.Methods", method, svcName)
				continue
			}
			md := methodDescriptor(t, method)
			short := string(md.Name())
			tmpls, hasProbe := probes[method]
			switch {
			case scope == policy.Write && !noCase[short] && !hasProbe:
				tmpls = []string{writeProbe(t, md)}
			case scope == policy.Write && !hasProbe:
				continue // a write naming no case (noCase)
			case !hasProbe:
				t.Errorf("%s reads %s but has no probe in visibility_test.go", method, scope)
				continue
			}
			probed[method] = true
			for _, tmpl := range tmpls {
				for _, outsider := range []struct{ token, office string }{{"demo-xitang", "330421103"}, {"demo-zjj", "330421.zjj"}} {
					got := call(t, conn, md, outsider.token, fill(tmpl, num, outsider.office))
					if scope == policy.OneCase || scope == policy.Write || scope == policy.Receipt {
						absent := strings.ReplaceAll(call(t, conn, md, outsider.token, fill(tmpl, missing, outsider.office)), missing, num)
						if got != absent {
							t.Errorf("%s %s as %s: answers the case otherwise than a missing one:\n  case:    %.400s\n  missing: %.400s", method, tmpl, outsider.token, got, absent)
						}
						continue
					}
					for _, secret := range secrets {
						if strings.Contains(got, secret) {
							t.Errorf("%s %s as %s: the answer shows %q of a case it may not see: %.400s", method, tmpl, outsider.token, secret, got)
						}
					}
				}
				if marker, ok := shownToRegistrar[short]; ok && tmpl == tmpls[0] {
					if marker == "" {
						marker = num
					}
					if got := call(t, conn, md, "demo-dayun", fill(tmpl, num, "330421102")); !strings.Contains(got, marker) {
						t.Errorf("%s %s: the registering office is not shown the case either, so the probe proves nothing: %.400s", method, tmpl, got)
					}
				}
			}
		}
	}
	for m := range probes {
		if !seen[m] {
			t.Errorf("probe for %s, which no service registers", m)
		}
	}
	if len(probed) < 50 {
		t.Errorf("only %d methods probed: %v", len(probed), slices.Sorted(maps.Keys(probed)))
	}
}

// writeProbe names the case in a write's request: by "name" or "parent",
// the way every move of a case does.
func writeProbe(t *testing.T, md protoreflect.MethodDescriptor) string {
	fields := md.Input().Fields()
	var parts []string
	for _, f := range []protoreflect.Name{"name", "parent"} {
		if fields.ByName(f) != nil {
			parts = append(parts, `"`+string(f)+`": "cases/{case}"`)
		}
	}
	if len(parts) == 0 {
		t.Fatalf("%s: a write whose request names no case by name or parent: give it a probe or put it in noCase", md.FullName())
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// registered lists the Tongban methods a server registers, by reflection.
func registered(t *testing.T, conn *grpc.ClientConn) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, svc := range resp.GetListServicesResponse().GetService() {
		if !strings.HasPrefix(svc.GetName(), "tongban.") {
			continue
		}
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc.GetName()))
		if err != nil {
			t.Fatalf("service %s: %v", svc.GetName(), err)
		}
		methods := d.(protoreflect.ServiceDescriptor).Methods()
		for i := range methods.Len() {
			out = append(out, "/"+svc.GetName()+"/"+string(methods.Get(i).Name()))
		}
	}
	if len(out) == 0 {
		t.Fatal("reflection lists no Tongban service")
	}
	return out
}

func methodDescriptor(t *testing.T, method string) protoreflect.MethodDescriptor {
	svc, name, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		t.Fatal(err)
	}
	return d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(name))
}

// call makes one call as token with a JSON request and renders what comes
// back (the messages, or the status with its details) as text.
func call(t *testing.T, conn *grpc.ClientConn, md protoreflect.MethodDescriptor, token, request string) string {
	t.Helper()
	newMsg := func(d protoreflect.MessageDescriptor) proto.Message {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(d.FullName())
		if err != nil {
			t.Fatal(err)
		}
		return mt.New().Interface()
	}
	req := newMsg(md.Input())
	if err := protojson.Unmarshal([]byte(request), req); err != nil {
		t.Fatalf("%s: request %s: %v", md.FullName(), request, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	ctx = metadataCtx(ctx, "authorization", "Bearer "+token)
	method := "/" + string(md.Parent().FullName()) + "/" + string(md.Name())
	render := func(m proto.Message) string {
		if b, ok := m.(*httpbody.HttpBody); ok {
			return b.GetContentType() + "\n" + string(b.GetData())
		}
		return protojson.Format(m)
	}
	var out []string
	var err error
	if md.IsStreamingServer() {
		watch, cancelWatch := context.WithTimeout(ctx, 1500*time.Millisecond) // a watch never ends by itself
		defer cancelWatch()
		var stream grpc.ClientStream
		stream, err = conn.NewStream(watch, &grpc.StreamDesc{ServerStreams: true}, method)
		if err == nil {
			if err = stream.SendMsg(req); err == nil {
				err = stream.CloseSend()
			}
		}
		for err == nil {
			m := newMsg(md.Output())
			if err = stream.RecvMsg(m); err == nil {
				out = append(out, render(m))
			}
		}
		if errors.Is(err, io.EOF) || rpcerr.Code(err) == 4 { // the watch's own deadline
			err = nil
		}
	} else {
		resp := newMsg(md.Output())
		if err = conn.Invoke(ctx, method, req, resp); err == nil {
			out = append(out, render(resp))
		}
	}
	if err != nil {
		return "error: " + protojson.Format(rpcerr.Status(err).Proto())
	}
	return strings.Join(out, "\n")
}
