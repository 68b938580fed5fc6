package filetype_test

import (
	"archive/zip"
	"bytes"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/tongban/tongban/services/intake/internal/filetype"
)

func TestSniff(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	encode := func(f func(*bytes.Buffer) error) []byte {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	gb, err := simplifiedchinese.GB18030.NewEncoder().String("东云村的污水管道破裂，三个月没有修。")
	if err != nil {
		t.Fatal(err)
	}
	plainZip := encode(func(b *bytes.Buffer) error {
		w := zip.NewWriter(b)
		f, _ := w.Create("readme.txt")
		f.Write([]byte("hello")) //nolint:errcheck
		return w.Close()
	})
	file := func(name string) []byte {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name    string
		data    []byte
		allowed bool
		stored  string // the media type stored, or the named type when refused
	}{
		{"pdf", []byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"), true, "application/pdf"},
		{"png", encode(func(b *bytes.Buffer) error { return png.Encode(b, img) }), true, "image/png"},
		{"jpeg", encode(func(b *bytes.Buffer) error { return jpeg.Encode(b, img, nil) }), true, "image/jpeg"},
		{"gif", encode(func(b *bytes.Buffer) error { return gif.Encode(b, img, nil) }), true, "image/gif"},
		{"utf-8 text", []byte("东云村的污水管道破裂"), true, "text/plain; charset=utf-8"},
		{"gb18030 text", []byte(gb), true, "text/plain; charset=gb18030"},
		{"csv", []byte("姓名,事项\n张三,修路\n"), true, "text/csv; charset=utf-8"},
		{"doc", file("doc.doc"), true, "application/msword"},
		{"xls", file("xls.xls"), true, "application/vnd.ms-excel"},
		{"ppt", file("ppt.ppt"), true, "application/vnd.ms-powerpoint"},
		{"docx", file("docx.docx"), true, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"pptx", file("pptx.pptx"), true, "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
		{"mp3", append([]byte("ID3\x04\x00\x00\x00\x00\x00\x40"), make([]byte, 64)...), true, "audio/mpeg"},
		{"amr", []byte("#!AMR\n\x3c\x00\x00\x00"), true, "audio/amr"},
		// Refused, whatever their name said.
		{"html", []byte("<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"), false, "HTML (text/html)"},
		{"html without tags first", []byte("\ufeff  <script>fetch('/v1/cases')</script>"), false, "HTML (text/html)"},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), false, "SVG (image/svg+xml)"},
		{"xml", []byte(`<?xml version="1.0"?><a/>`), false, "XML (text/xml)"},
		{"windows executable", append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00"), make([]byte, 64)...), false, "EXE (application/vnd.microsoft.portable-executable)"},
		{"elf", append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, 64)...), false, "application/x-elf"},
		{"shell script", []byte("#!/bin/sh\nrm -rf /\n"), false, "SH (text/x-shellscript)"},
		{"msi installer (an OLE file)", file("msi.msi"), false, "MSI (application/x-ms-installer)"},
		{"outlook message", file("msg.msg"), false, "MSG (application/vnd.ms-outlook)"},
		{"jar (a zip)", file("jar.jar"), false, "JAR (application/java-archive)"},
		{"zip", plainZip, false, "ZIP (application/zip)"},
		{"unknown bytes", []byte{0x00, 0x01, 0x02, 0xfe, 0xff, 0x00}, false, "an unrecognised binary file (application/octet-stream)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := filetype.Sniff(tc.data)
			if got.Allowed != tc.allowed {
				t.Fatalf("Sniff: allowed %t (%+v), want %t", got.Allowed, got, tc.allowed)
			}
			if tc.allowed && got.MediaType != tc.stored {
				t.Errorf("stored as %q, want %q", got.MediaType, tc.stored)
			}
			if !tc.allowed && !strings.Contains(got.Name, tc.stored) {
				t.Errorf("named %q, want it to say %q", got.Name, tc.stored)
			}
		})
	}
}

// FuzzSniff: whatever the bytes, an allowed type is on the allowlist and
// never markup a browser would run.
func FuzzSniff(f *testing.F) {
	f.Add([]byte("<html>"))
	f.Add([]byte("%PDF-1.4"))
	f.Add([]byte("hello"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := filetype.Sniff(data)
		if !got.Allowed {
			return
		}
		base, _, _ := strings.Cut(got.MediaType, ";")
		if _, ok := filetype.Allowed[base]; !ok {
			t.Fatalf("allowed %q, not on the list", got.MediaType)
		}
		for _, bad := range []string{"html", "svg", "xml", "script"} {
			if strings.Contains(got.MediaType, bad) {
				t.Fatalf("allowed %q", got.MediaType)
			}
		}
	})
}
