// Command holidays loads a year's State Council holiday notice into the
// calendar data every service embeds (services/county/calendar/
// holidays.json), after checking it:
//
//	go run ./tools/holidays notice-2027.txt          # add 2027
//	go run ./tools/holidays -replace notice-2027.txt # load a corrected notice
//	go run ./tools/holidays -check notice-2027.txt   # check only
//
// The notice is typed from the published text (format: calendar.Notice).
// Review the diff and commit it; the services pick the year up when they are
// rebuilt, and scheduling recomputes running clocks at start (provisional
// deadlines into that year become firm).
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"

	"github.com/tongban/tongban/services/county/calendar"
)

func main() {
	data := flag.String("data", "services/county/calendar/holidays.json", "the calendar data file to update")
	replace := flag.Bool("replace", false, "replace a year already in the data")
	check := flag.Bool("check", false, "check the notice and the merge, write nothing")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: holidays [-replace] [-check] [-data file] notice.txt")
		os.Exit(2)
	}
	if err := run(*data, flag.Arg(0), *replace, *check); err != nil {
		fmt.Fprintln(os.Stderr, "holidays:", err)
		os.Exit(1)
	}
}

func run(dataPath, noticePath string, replace, check bool) error {
	f, err := os.Open(noticePath)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := calendar.ParseNotice(f)
	if err != nil {
		return fmt.Errorf("%s: %w", noticePath, err)
	}
	data, err := os.ReadFile(dataPath)
	if err != nil {
		return err
	}
	merged, err := calendar.Merge(data, n, replace)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(n.Holidays))
	for name := range n.Holidays {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Printf("%d (%s):\n", n.Year, n.Source)
	for _, name := range names {
		fmt.Printf("  %-8s %d days off %v, make-up working days %v\n", name, len(n.Holidays[name]), n.Holidays[name], n.Workdays[name])
	}
	if check {
		fmt.Println("checked; nothing written (-check)")
		return nil
	}
	if err := os.WriteFile(dataPath, merged, 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s: review the diff and commit it\n", dataPath)
	return nil
}
