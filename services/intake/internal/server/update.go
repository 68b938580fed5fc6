package server

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/intake/internal/store"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/idempotency"
	"github.com/tongban/tongban/services/platform/names"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/precondition"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

// correctable are the fields a registration may be corrected in; the rest
// (channel, class, township, source) decide routing and stay as registered.
var correctable = []string{"anonymous", "content", "head_count", "petitioners", "receive_time", "subject", "topic"}

// UpdateCase corrects a registration.
func (s *Server) UpdateCase(ctx context.Context, req *intakev1.UpdateCaseRequest) (*intakev1.UpdateCaseResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v rpcerr.Violations
	num, ok := names.CaseNumber(req.GetCase().GetName())
	if !ok {
		v.Add("case.name", names.CaseNumberHint)
	}
	var fields []string
	for _, p := range req.GetUpdateMask().GetPaths() {
		switch {
		case p == "name" || p == "etag": // identify and guard; not changes
		case slices.Contains(correctable, p):
			if !slices.Contains(fields, p) {
				fields = append(fields, p)
			}
		default:
			v.Add("update_mask", p+" cannot be corrected; correctable: "+strings.Join(correctable, ", "))
		}
	}
	if slices.Contains(fields, "receive_time") && req.GetCase().GetReceiveTime() == nil {
		v.Add("case.receive_time", "is required when update_mask names it")
	}
	if len(fields) == 0 && v.Len() == 0 {
		v.Add("update_mask", "names no field to correct")
	}
	rid := idempotency.Checked(ctx, req.GetRequestId(), &v)
	want := precondition.Etag(ctx, req.GetCase().GetEtag(), &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	sort.Strings(fields)

	receipt := &intakev1.Case{}
	key := idempotency.Key{Scope: caller.Office.ID, Method: "UpdateCase", RequestID: rid}
	err = pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		_, err := idempotency.Do(ctx, tx, key, req, receipt, func() error {
			c, err := s.lockVisible(ctx, tx, caller, num, "name", req.GetCase().GetName(), true)
			if err != nil {
				return err
			}
			if caller.Office.ID != c.RegisteredBy {
				return rpcerr.New(codes.PermissionDenied, "NOT_REGISTERING_OFFICE", "only the registering office may correct a registration")
			}
			if want != "" && want != etag(c.Version) {
				return rpcerr.New(codes.Aborted, "ETAG_MISMATCH", "the case changed since you read it: reload it and try again", "etag", etag(c.Version))
			}
			// Validate the corrected registration as a whole, as at registration.
			merged := s.view(caller, c, rootView{})
			in := req.GetCase()
			for _, f := range fields {
				switch f {
				case "subject":
					merged.Subject, c.Subject = in.GetSubject(), in.GetSubject()
				case "content":
					merged.Content, c.Content = in.GetContent(), in.GetContent()
				case "topic":
					merged.Topic, c.Topic = in.GetTopic(), in.GetTopic()
				case "anonymous":
					merged.Anonymous, c.Anonymous = in.GetAnonymous(), in.GetAnonymous()
				case "receive_time":
					merged.ReceiveTime = in.GetReceiveTime()
				case "head_count":
					merged.HeadCount = in.GetHeadCount()
				case "petitioners":
					merged.Petitioners = in.GetPetitioners()
				}
			}
			if err := s.validate(c.RegisteredBy, &intakev1.CreateCaseRequest{Case: merged}, s.Now()); err != nil {
				return err
			}
			c.ReceiveTime = merged.GetReceiveTime().AsTime()
			c.HeadCount = headCount(merged)
			c.Petitioners = petitionersOf(merged)
			if err := s.Store.Update(ctx, tx, c, store.Correction{
				Fields: fields, ActorOffice: caller.Office.ID, ActorRole: caller.Role, RequestID: rid,
			}); err != nil {
				return err
			}
			receipt.Name, receipt.CaseNumber = names.Case(num), num
			if err := audit.Append(ctx, tx, audit.FromCall(ctx, audit.Correct, num, rid, "fields="+strings.Join(fields, ","))); err != nil {
				return err
			}
			return outbox.Append(ctx, tx, &eventsv1.Event{
				CaseNumber: num,
				OccurTime:  timestamppb.New(c.UpdateTime),
				Payload: &eventsv1.Event_CaseCorrected{CaseCorrected: &eventsv1.CaseCorrected{
					Fields: fields, ActorOffice: names.Office(caller.Office.ID),
					ReceiveTime: timestamppb.New(c.ReceiveTime), HeadCount: c.HeadCount,
					Topic: c.Topic, Group: int(c.HeadCount) >= s.Rules.GroupSize,
				}},
			})
		})
		return err
	})
	if err != nil {
		return nil, rpcerr.ToStatus(err)
	}
	c, err := s.reread(ctx, caller, num)
	if err != nil {
		return nil, err
	}
	return &intakev1.UpdateCaseResponse{Case: c}, nil
}
