// Package filetype decides from a file's bytes, never from what the uploader
// declared, whether it may be attached to a case and as what type it is
// stored and served. Detection is github.com/gabriel-vasile/mimetype's; the
// allowlist is the county's: what a petitioner brings to a counter or a
// clerk records (documents, scans and photos, a phone call's audio, text).
// HTML, SVG, XML, scripts, archives and executables are refused, whatever
// they are called, because a file served from the workbench's origin must
// not be able to run there or on a clerk's computer.
package filetype

import (
	"strings"
	"unicode/utf8"

	"github.com/gabriel-vasile/mimetype"
)

// Allowed names each accepted type (as mimetype reports it, without
// parameters) and how a clerk would call it.
var Allowed = map[string]string{
	"application/pdf": "PDF",
	// Office documents, old (OLE) and new (OOXML, ODF).
	"application/msword":            "Word 文档",
	"application/vnd.ms-excel":      "Excel 表格",
	"application/vnd.ms-powerpoint": "PowerPoint 演示文稿",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   "Word 文档",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         "Excel 表格",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint 演示文稿",
	"application/vnd.oasis.opendocument.text":                                   "ODF 文档",
	"application/vnd.oasis.opendocument.spreadsheet":                            "ODF 表格",
	"application/vnd.oasis.opendocument.presentation":                           "ODF 演示文稿",
	"text/rtf": "RTF 文档",
	// Scans and photos (HEIC: a phone's camera).
	"image/jpeg": "JPEG 图片", "image/png": "PNG 图片", "image/gif": "GIF 图片", "image/webp": "WebP 图片",
	"image/bmp": "BMP 图片", "image/tiff": "TIFF 图片", "image/heic": "HEIC 图片", "image/heif": "HEIF 图片",
	// A phone call's or a meeting's recording.
	"audio/mpeg": "MP3 录音", "audio/wav": "WAV 录音", "audio/amr": "AMR 录音", "audio/x-m4a": "M4A 录音",
	"audio/mp4": "MP4 录音", "audio/aac": "AAC 录音", "audio/ogg": "Ogg 录音", "audio/flac": "FLAC 录音",
	// Text, and the tables a text editor saves.
	"text/plain": "纯文本", "text/csv": "CSV 表格", "text/tab-separated-values": "TSV 表格",
}

// Accepted says what may be attached, for an error message.
const Accepted = "only PDF, office documents (Word, Excel, PowerPoint, ODF, RTF), images (JPEG, PNG, GIF, WebP, BMP, TIFF, HEIC), audio recordings (MP3, WAV, AMR, M4A, AAC, Ogg, FLAC) and plain text or CSV"

// Sniffed is what the bytes were found to be.
type Sniffed struct {
	MediaType string // as stored and served, with a charset for text
	Name      string // the type as a person would say it, e.g. "HTML (text/html)"
	Allowed   bool
}

// Sniff looks at data's leading bytes.
func Sniff(data []byte) Sniffed {
	m := mimetype.Detect(data)
	// The exact type, not an ancestor: HTML and SVG descend from text/plain,
	// an installer (MSI) from the OLE container old Office files share.
	base, _, _ := strings.Cut(m.String(), ";")
	name, ok := Allowed[base]
	for t, n := range Allowed {
		if !ok && m.Is(t) { // the same type under another of its names
			base, name, ok = t, n, true
		}
	}
	if !ok {
		return Sniffed{MediaType: base, Name: describe(m, base)}
	}
	mt := base
	if strings.HasPrefix(base, "text/") && base != "text/rtf" {
		mt = base + "; charset=" + textCharset(data)
	}
	return Sniffed{MediaType: mt, Name: name + " (" + base + ")", Allowed: true}
}

// textCharset names text's encoding: UTF-8 or UTF-16 when it says so,
// otherwise GB 18030, the national standard Chinese Windows saves in
// (mimetype would guess ISO-8859-1 for it).
func textCharset(data []byte) string {
	switch {
	case len(data) >= 2 && (data[0] == 0xFF && data[1] == 0xFE || data[0] == 0xFE && data[1] == 0xFF):
		return "utf-16"
	case utf8.Valid(data):
		return "utf-8"
	}
	return "gb18030"
}

func describe(m *mimetype.MIME, base string) string {
	switch {
	case base == "application/octet-stream":
		return "an unrecognised binary file (application/octet-stream)"
	case m.Extension() != "":
		return strings.ToUpper(strings.TrimPrefix(m.Extension(), ".")) + " (" + base + ")"
	}
	return base
}
