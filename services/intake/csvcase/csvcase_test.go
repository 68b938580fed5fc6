package csvcase

import (
	"strings"
	"testing"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
)

func TestRead(t *testing.T) {
	t.Parallel()
	in := "\ufeffchannel,township,case_class,subject,content,receive_time,petitioner_name,petitioner_phone,head_count,external_id,source_system\n" +
		"letter,330421102,claim,管网破损,内容,2026-11-20 09:30,张三,13812345678,1,E-1,xfxt\n" +
		"CHANNEL_VISIT,330421103,CASE_CLASS_SUGGESTION,建议,内容,,,,,,\n" +
		"fax,330421103,wish,x,y,yesterday,,,many,,\n"
	var got []*intakev1.ImportCasesRequest
	if err := Read(strings.NewReader(in), func(row int, req *intakev1.ImportCasesRequest) error {
		if row != len(got)+1 {
			t.Errorf("row %d out of order", row)
		}
		got = append(got, req)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d rows", len(got))
	}
	c := got[0].GetCase()
	if c.GetChannel() != intakev1.Channel_CHANNEL_LETTER || c.GetCaseClass() != intakev1.CaseClass_CASE_CLASS_CLAIM ||
		c.GetPetitioners()[0].GetPhone() != "13812345678" || c.GetReceiveTime().AsTime().UTC().Hour() != 1 || c.GetExternalId() != "E-1" {
		t.Errorf("row 1 = %v", c)
	}
	if c := got[1].GetCase(); c.GetChannel() != intakev1.Channel_CHANNEL_VISIT || c.GetPetitioners() != nil || c.GetReceiveTime() != nil {
		t.Errorf("row 2 = %v", c)
	}
	// Unreadable values stay invalid for the server to report.
	if c := got[2].GetCase(); c.GetChannel() != -1 || c.GetCaseClass() != -1 || c.GetReceiveTime().CheckValid() == nil || c.GetHeadCount() != -1 {
		t.Errorf("row 3 = %v", c)
	}
	if err := Read(strings.NewReader("channel,colour\n"), func(int, *intakev1.ImportCasesRequest) error { return nil }); err == nil {
		t.Error("unknown column accepted")
	}
	if err := Read(strings.NewReader("channel,township\nvisit\n"), func(int, *intakev1.ImportCasesRequest) error { return nil }); err == nil {
		t.Error("short row accepted")
	}
}

func FuzzRead(f *testing.F) {
	f.Add("channel,township\nvisit,330421102\n")
	f.Add("\"")
	f.Fuzz(func(t *testing.T, in string) {
		_ = Read(strings.NewReader(in), func(int, *intakev1.ImportCasesRequest) error { return nil })
	})
}
