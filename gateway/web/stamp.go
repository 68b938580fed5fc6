package web

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// stampInputs are the workbench's sources whose hash its build records
// (web/workbench/scripts/stamp.mjs computes the same).
var stampInputs = []string{"index.html", "package.json", "package-lock.json", "vite.config.js", "src"}

// SourceHash is the hash of the workbench's sources in dir (web/workbench):
// for each file, sorted by its slash-separated path, "<sha256 of the
// content>  <path>\n"; then the sha256 of that text, in hex.
func SourceHash(dir string) (string, error) {
	var paths []string
	for _, in := range stampInputs {
		err := filepath.WalkDir(filepath.Join(dir, in), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(dir, p)
			paths = append(paths, filepath.ToSlash(rel))
			return err
		})
		if err != nil {
			return "", fmt.Errorf("workbench sources: %w", err)
		}
	}
	slices.Sort(paths)
	var list strings.Builder
	for _, p := range paths {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return "", fmt.Errorf("workbench sources: %w", err)
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(&list, "%s  %s\n", hex.EncodeToString(sum[:]), p)
	}
	sum := sha256.Sum256([]byte(list.String()))
	return hex.EncodeToString(sum[:]), nil
}

// BuiltFrom is the source hash the embedded workbench build was made from.
func BuiltFrom() string {
	b, _ := files.ReadFile("workbench/source.sha256")
	return strings.TrimSpace(string(b))
}
