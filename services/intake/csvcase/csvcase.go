// Package csvcase reads cases from CSV for ImportCases: the gateway's
// POST /v1/cases:importCsv and the importcases command share it. The first
// row names the columns (any order; unknown columns are an error):
//
//	channel, township, case_class, topic, subject, content, receive_time,
//	petitioner_name, petitioner_id_number, petitioner_phone, head_count,
//	anonymous, source_system, external_id, request_id
//
// Enumerations take their short names (visit, letter, phone, web,
// referral; suggestion, accusation, claim) or the full enum names;
// receive_time is RFC 3339 or "2006-01-02 15:04" in China time. A value
// that cannot be read is passed on as an invalid one, so the server reports
// it against the right field and line like any other bad value.
package csvcase

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Shanghai everywhere

	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
)

var columns = []string{"channel", "township", "case_class", "topic", "subject", "content", "receive_time",
	"petitioner_name", "petitioner_id_number", "petitioner_phone", "head_count", "anonymous",
	"source_system", "external_id", "request_id"}

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

// Read calls fn for each data row of r, in order, with its 1-based row
// number (the header is not counted).
func Read(r io.Reader, fn func(row int, req *intakev1.ImportCasesRequest) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 0 // every row as long as the header
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return errors.New("csv: empty file (the first row names the columns)")
	} else if err != nil {
		return fmt.Errorf("csv: header: %w", err)
	}
	index := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))) // Excel's BOM
		known := false
		for _, c := range columns {
			known = known || c == h
		}
		if !known {
			return fmt.Errorf("csv: unknown column %q (known: %s)", h, strings.Join(columns, ", "))
		}
		index[h] = i
	}
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("csv: row %d: %w", row, err)
		}
		get := func(col string) string {
			if i, ok := index[col]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if err := fn(row, toRequest(get)); err != nil {
			return err
		}
	}
}

func toRequest(get func(string) string) *intakev1.ImportCasesRequest {
	c := &intakev1.Case{
		Channel:      intakev1.Channel(enum(get("channel"), "CHANNEL_", intakev1.Channel_value)),
		Township:     get("township"),
		CaseClass:    intakev1.CaseClass(enum(get("case_class"), "CASE_CLASS_", intakev1.CaseClass_value)),
		Topic:        get("topic"),
		Subject:      get("subject"),
		Content:      get("content"),
		SourceSystem: get("source_system"),
		ExternalId:   get("external_id"),
	}
	if v := get("receive_time"); v != "" {
		c.ReceiveTime = timeOf(v)
	}
	if v := get("head_count"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			n = -1 // the server rejects it as case.head_count
		}
		c.HeadCount = int32(n)
	}
	switch strings.ToLower(get("anonymous")) {
	case "true", "yes", "1", "是", "匿名":
		c.Anonymous = true
	}
	if name, id, phone := get("petitioner_name"), get("petitioner_id_number"), get("petitioner_phone"); name+id+phone != "" {
		c.Petitioners = []*intakev1.Petitioner{{DisplayName: name, IdNumber: id, Phone: phone}}
	}
	return &intakev1.ImportCasesRequest{Case: c, RequestId: get("request_id")}
}

// enum reads a short or full enum name; unknown names give -1, which the
// server rejects for that field.
func enum(v, prefix string, values map[string]int32) int32 {
	if v == "" {
		return 0
	}
	if n, ok := values[strings.ToUpper(v)]; ok {
		return n
	}
	if n, ok := values[prefix+strings.ToUpper(v)]; ok {
		return n
	}
	return -1
}

func timeOf(v string) *timestamppb.Timestamp {
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, shanghai); err == nil {
			return timestamppb.New(t)
		}
	}
	return &timestamppb.Timestamp{Nanos: -1} // invalid: the server says so
}
