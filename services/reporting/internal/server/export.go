package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
	"google.golang.org/genproto/googleapis/api/httpbody"

	reportingv1 "github.com/tongban/tongban/proto/tongban/reporting/v1"
	"github.com/tongban/tongban/services/platform/download"
	"github.com/tongban/tongban/services/platform/fault"
)

// column is one figure of the export: its label and how to read it.
type column struct {
	label string
	value func(*reportingv1.Figures) string
}

func n(f func(*reportingv1.Figures) int64) func(*reportingv1.Figures) string {
	return func(x *reportingv1.Figures) string { return strconv.FormatInt(f(x), 10) }
}

func pct(f func(*reportingv1.Figures) *float64) func(*reportingv1.Figures) string {
	return func(x *reportingv1.Figures) string {
		if v := f(x); v != nil {
			return strconv.FormatFloat(*v*100, 'f', 1, 64) + "%"
		}
		return "—"
	}
}

// headline lists the figures of the monthly report, in the order leaders
// read them.
var headline = []column{
	{"信访总量（批次）", n((*reportingv1.Figures).GetCases)},
	{"信访人次", n((*reportingv1.Figures).GetPersons)},
	{"集体访（批次）", n((*reportingv1.Figures).GetGroupCases)},
	{"乡镇上报（批次）", n((*reportingv1.Figures).GetReferredUp)},
	{"重信重访（批次）", n((*reportingv1.Figures).GetRepeats)},
	{"已答复", n((*reportingv1.Figures).GetAnswered)},
	{"已办结", n((*reportingv1.Figures).GetClosed)},
	{"不予受理", n((*reportingv1.Figures).GetDeclined)},
	{"复查申请", n((*reportingv1.Figures).GetReviews)},
	{"复核申请", n((*reportingv1.Figures).GetReReviews)},
	{"及时受理率（分类处理）", pct(func(f *reportingv1.Figures) *float64 { return f.TimelyRoutingRate })},
	{"及时告知率（告知受理）", pct(func(f *reportingv1.Figures) *float64 { return f.TimelyAcceptanceRate })},
	{"按期办结率", pct(func(f *reportingv1.Figures) *float64 { return f.OnTimeAnswerRate })},
	{"结案率", pct(func(f *reportingv1.Figures) *float64 { return f.ClosedRate })},
	{"化解率", pct(func(f *reportingv1.Figures) *float64 { return f.ResolutionRate })},
	{"参评率", pct(func(f *reportingv1.Figures) *float64 { return f.EvaluationRate })},
	{"满意率", pct(func(f *reportingv1.Figures) *float64 { return f.SatisfactionRate })},
}

// ExportRows lays a month's report out as the rows of both exports:
// the headline with its comparisons, then the breakdowns and rankings.
func ExportRows(r *reportingv1.Report) [][]string {
	rows := [][]string{
		{"信访工作月度统计", r.GetCounty() + " " + r.GetStartMonth()},
		{"数据截至", r.GetAsOf().AsTime().Format("2006-01-02 15:04:05 UTC")},
		{},
		{"指标", "本月", "去年同月", "上月"},
	}
	for _, c := range headline {
		rows = append(rows, []string{c.label, c.value(r.GetFigures()), c.value(r.GetYearAgo()), c.value(r.GetPrevious())})
	}
	rows = append(rows, []string{}, []string{"按渠道", "批次", "人次"})
	for _, c := range r.GetChannels() {
		rows = append(rows, []string{c.GetLabel(), strconv.FormatInt(c.GetCases(), 10), strconv.FormatInt(c.GetPersons(), 10)})
	}
	rows = append(rows, []string{}, []string{"按类别", "批次", "人次"})
	for _, c := range r.GetClasses() {
		rows = append(rows, []string{c.GetLabel(), strconv.FormatInt(c.GetCases(), 10), strconv.FormatInt(c.GetPersons(), 10)})
	}
	rows = append(rows, []string{}, []string{"问题类别（前十）", "批次", "人次"})
	for _, c := range r.GetTopics() {
		rows = append(rows, []string{c.GetLabel(), strconv.FormatInt(c.GetCases(), 10), strconv.FormatInt(c.GetPersons(), 10)})
	}
	for _, units := range []struct {
		title string
		list  []*reportingv1.UnitFigures
	}{{"乡镇（街道）排名", r.GetTownships()}, {"部门排名", r.GetDepartments()}} {
		head := []string{units.title}
		for _, c := range headline {
			head = append(head, c.label)
		}
		rows = append(rows, []string{}, head)
		for _, u := range units.list {
			row := []string{u.GetTitle()}
			for _, c := range headline {
				row = append(row, c.value(u.GetFigures()))
			}
			rows = append(rows, row)
		}
	}
	rows = append(rows, []string{}, []string{"领导接访约访", "单位", "接访（人次）", "约访（次）"})
	for _, l := range r.GetLeaders() {
		rows = append(rows, []string{l.GetLeader(), l.GetOfficeTitle(), strconv.FormatInt(l.GetReceptionMeetings(), 10), strconv.FormatInt(l.GetAppointments(), 10)})
	}
	return rows
}

// CSV writes rows for a spreadsheet: UTF-8 with a byte-order mark (so
// Excel reads the Chinese), and every text cell that a spreadsheet would
// take for a formula neutralised (OWASP, CSV injection): a leader's name
// or an office's is typed by people, and "=HYPERLINK(…)" must stay text.
func CSV(rows [][]string) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("\ufeff")
	w := csv.NewWriter(&buf)
	for _, row := range rows {
		safe := make([]string, len(row))
		for i, cell := range row {
			safe[i] = TextCell(cell)
		}
		if err := w.Write(safe); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// TextCell prefixes a quote to a cell that starts with a formula's
// character (= + - @, tab, carriage return), unless it is a number: "-3"
// is a count, not a formula.
func TextCell(cell string) string {
	if cell == "" || !strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return cell
	}
	if _, err := strconv.ParseFloat(cell, 64); err == nil {
		return cell
	}
	return "'" + cell
}

// ExportMonthlyReport writes a month's report as XLSX or CSV.
func (s *Server) ExportMonthlyReport(ctx context.Context, req *reportingv1.ExportMonthlyReportRequest) (*httpbody.HttpBody, error) {
	var v fault.Violations
	m := parseMonth(&v, "month", req.GetMonth())
	if _, ok := reportingv1.ExportFormat_name[int32(req.GetFormat())]; !ok {
		v.Add("format", "must be EXPORT_FORMAT_XLSX or EXPORT_FORMAT_CSV")
	}
	sc, err := s.scopeOf(ctx, &v, req.GetCounty(), req.GetTownship(), "")
	if err != nil {
		return nil, err
	}
	r, err := s.report(ctx, sc, newPeriod(m, m))
	if err != nil {
		return nil, err
	}
	rows := ExportRows(r)
	file := fmt.Sprintf("信访月报-%s-%s", r.GetCounty(), r.GetStartMonth())
	if sc.township != "" {
		file += "-" + sc.township
	}
	if sc.office != "" {
		file += "-" + sc.office
	}
	var out httpbody.HttpBody
	if req.GetFormat() == reportingv1.ExportFormat_EXPORT_FORMAT_CSV {
		b, err := CSV(rows)
		if err != nil {
			return nil, fault.Hide(err)
		}
		out = httpbody.HttpBody{ContentType: "text/csv; charset=utf-8", Data: b}
		file += ".csv"
	} else {
		b, err := xlsx(rows)
		if err != nil {
			return nil, fault.Hide(err)
		}
		out = httpbody.HttpBody{ContentType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", Data: b}
		file += ".xlsx"
	}
	download.SetFilename(ctx, file)
	return &out, nil
}

// xlsx writes rows to one sheet: numbers as numbers, the header rows bold.
func xlsx(rows [][]string) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	const sheet = "月报"
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return nil, err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return nil, err
	}
	for i, row := range rows {
		for j, val := range row {
			cell, err := excelize.CoordinatesToCellName(j+1, i+1)
			if err != nil {
				return nil, err
			}
			var v any = val
			if n, err := strconv.ParseInt(val, 10, 64); err == nil {
				v = n
			}
			if err := f.SetCellValue(sheet, cell, v); err != nil {
				return nil, err
			}
		}
		if i == 0 || (i > 0 && len(rows[i-1]) == 0 && len(row) > 0) {
			last, _ := excelize.CoordinatesToCellName(max(len(row), 1), i+1)
			first, _ := excelize.CoordinatesToCellName(1, i+1)
			if err := f.SetCellStyle(sheet, first, last, bold); err != nil {
				return nil, err
			}
		}
	}
	if err := f.SetColWidth(sheet, "A", "A", 28); err != nil {
		return nil, err
	}
	if err := f.SetColWidth(sheet, "B", "Q", 14); err != nil {
		return nil, err
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
