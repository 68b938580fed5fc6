package server

import (
	"context"
	"time"

	"google.golang.org/grpc"

	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	"github.com/tongban/tongban/services/assignment/internal/store"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/outbox"
)

// Events implements tongban.events.v1.CaseEventService: assignment's
// outbox (every move of every case) for outside systems, each caller seeing
// the moves of the cases it may see.
type Events struct {
	eventsv1.UnimplementedCaseEventServiceServer
	Store *store.Store
	// Poll is how long a watch waits when nothing new is readable.
	Poll time.Duration
}

// maxScans bounds how many outbox pages one call reads looking for events
// the caller may see; next_cursor lets it go on from there.
const maxScans = 10

// ListCaseEvents lists the caller's events after a cursor.
func (e *Events) ListCaseEvents(ctx context.Context, req *eventsv1.ListCaseEventsRequest) (*eventsv1.ListCaseEventsResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	checkCursor(&v, req.GetAfterCursor())
	switch n := req.GetPageSize(); {
	case n < 0:
		v.Add("page_size", "must not be negative")
	case n > 1000:
		v.Add("page_size", "must be at most 1000")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	if size == 0 {
		size = 100
	}
	evs, next, err := e.page(ctx, caller, req.GetAfterCursor(), size)
	if err != nil {
		return nil, err
	}
	return &eventsv1.ListCaseEventsResponse{Events: evs, NextCursor: next}, nil
}

// WatchCaseEvents streams the caller's events after a cursor, then follows.
func (e *Events) WatchCaseEvents(req *eventsv1.WatchCaseEventsRequest, stream grpc.ServerStreamingServer[eventsv1.WatchCaseEventsResponse]) error {
	ctx := stream.Context()
	caller, err := auth.Require(ctx)
	if err != nil {
		return err
	}
	var v fault.Violations
	checkCursor(&v, req.GetAfterCursor())
	if err := v.Err(); err != nil {
		return err
	}
	after := req.GetAfterCursor()
	for {
		evs, next, err := e.page(ctx, caller, after, 500)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, ev := range evs {
			if err := stream.Send(&eventsv1.WatchCaseEventsResponse{Event: ev}); err != nil {
				return err
			}
		}
		if next == after {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(e.Poll):
			}
		}
		after = next
	}
}

func checkCursor(v *fault.Violations, cursor string) {
	if _, err := outbox.ParseCursor(cursor); err != nil {
		v.Add("after_cursor", "is not a cursor of this feed (use an Event.cursor or a next_cursor, or empty for the start)")
	}
}

// page reads up to size events after cursor that caller may see, and the
// cursor of the last event it read.
func (e *Events) page(ctx context.Context, caller auth.Caller, after string, size int) ([]*eventsv1.Event, string, error) {
	var out []*eventsv1.Event
	next := after
	for range maxScans {
		batch, err := outbox.Read(ctx, e.Store.Pool, next, size)
		if err != nil {
			return nil, "", err
		}
		visible, err := e.visible(ctx, caller, batch)
		if err != nil {
			return nil, "", err
		}
		for _, ev := range batch {
			next = ev.GetCursor()
			if visible[ev.GetCaseNumber()] {
				out = append(out, ev)
				if len(out) == size {
					return out, next, nil
				}
			}
		}
		if len(batch) < size {
			break
		}
	}
	return out, next, nil
}

// visible says which of the events' cases caller may see, as they stand
// now: an office that took part in a case follows it to the end.
func (e *Events) visible(ctx context.Context, caller auth.Caller, evs []*eventsv1.Event) (map[string]bool, error) {
	numbers := make([]string, 0, len(evs))
	for _, ev := range evs {
		numbers = append(numbers, ev.GetCaseNumber())
	}
	cases, err := e.Store.Involved(ctx, numbers)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(cases))
	for num, c := range cases {
		out[num] = policy.May(caller, policy.ReadFeeds) && caller.County == c.County || policy.CanSeeCase(caller, c.County, c.Involved)
	}
	return out, nil
}
