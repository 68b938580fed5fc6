package directory

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	directoryv1 "github.com/tongban/tongban/proto/tongban/directory/v1"
	"github.com/tongban/tongban/services/platform/logging"
)

var kinds = map[Kind]directoryv1.OfficeKind{
	Bureau:     directoryv1.OfficeKind_OFFICE_KIND_BUREAU,
	Township:   directoryv1.OfficeKind_OFFICE_KIND_TOWNSHIP,
	Department: directoryv1.OfficeKind_OFFICE_KIND_DEPARTMENT,
	Prefecture: directoryv1.OfficeKind_OFFICE_KIND_PREFECTURE,
}

// KindOf is the kind an API kind stands for ("" for none).
func KindOf(k directoryv1.OfficeKind) Kind {
	for kind, pk := range kinds {
		if pk == k {
			return kind
		}
	}
	return ""
}

// ToProto is the office as the API shows it; revision makes its etag.
func ToProto(o Office, revision int64, updated time.Time) *directoryv1.Office {
	p := &directoryv1.Office{
		Name: o.Resource(), DisplayName: o.Name, Kind: kinds[o.Kind], Duties: o.Duties, Closed: o.Closed,
		Etag: Etag(revision),
	}
	if !updated.IsZero() {
		p.UpdateTime = timestamppb.New(updated)
	}
	return p
}

// Etag is an office's etag at revision.
func Etag(revision int64) string { return `"` + strconv.FormatInt(revision, 10) + `"` }

// FromProto is the office an API office describes.
func FromProto(p *directoryv1.Office) Office {
	id, _ := strings.CutPrefix(p.GetName(), "offices/")
	return Office{ID: id, Name: p.GetDisplayName(), Kind: KindOf(p.GetKind()), Duties: p.GetDuties(), Closed: p.GetClosed()}
}

// Follow keeps d at the revision of the directory that source serves
// (assignment's OfficeService), asking at once and then every interval
// until ctx ends. A failure is logged and retried: d keeps the offices it
// has, so a service starts and runs while assignment is away.
func Follow(ctx context.Context, d *Directory, source directoryv1.OfficeServiceClient, every time.Duration) error {
	return Poll(ctx, d, every, func(ctx context.Context) error { return refresh(ctx, d, source) })
}

// Poll runs reload at once and then every interval until ctx ends, logging
// when it starts failing and when it recovers; d keeps the offices it holds
// meanwhile. Assignment polls its own table with it, the others Follow.
func Poll(ctx context.Context, d *Directory, every time.Duration, reload func(context.Context) error) error {
	log := logging.FromContext(ctx)
	failing := false
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		err := reload(ctx)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			log.WarnContext(ctx, "directory: cannot reload the offices; keeping the ones held", slog.String("error", err.Error()))
		case err == nil && failing:
			log.InfoContext(ctx, "directory: reloading the offices again", slog.Int64("revision", d.Revision()))
		}
		failing = err != nil
		t.Reset(every)
	}
}

func refresh(ctx context.Context, d *Directory, source directoryv1.OfficeServiceClient) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := source.ListOffices(ctx, &directoryv1.ListOfficesRequest{})
	if err != nil {
		return fmt.Errorf("list offices: %w", err)
	}
	if resp.GetCounty() != d.County.Code {
		return fmt.Errorf("list offices: the source serves county %q, this directory is %q", resp.GetCounty(), d.County.Code)
	}
	offices := make([]Office, 0, len(resp.GetOffices()))
	for _, p := range resp.GetOffices() {
		offices = append(offices, FromProto(p))
	}
	return d.Replace(offices, resp.GetRevision())
}
