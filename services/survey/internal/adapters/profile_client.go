package adapters

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	profilev1 "github.com/bazgasht/bazgasht/gen/cx/profile/v1"
	"github.com/bazgasht/bazgasht/services/survey/internal/app"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/invitation"
)

// ProfileClient reads profiles from the profile service.
type ProfileClient struct {
	conn   *grpc.ClientConn
	client profilev1.ProfileServiceClient
}

// NewProfileClient dials the profile service at addr (lazily).
func NewProfileClient(addr string) (*ProfileClient, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
	if err != nil {
		return nil, fmt.Errorf("profile client: %w", err)
	}
	return &ProfileClient{conn: conn, client: profilev1.NewProfileServiceClient(conn)}, nil
}

// Close closes the connection.
func (p *ProfileClient) Close() error { return p.conn.Close() }

var _ app.Profiles = (*ProfileClient)(nil)

// causeWait bounds waiting for the profile to include a request's cause
// event; the fold takes milliseconds when it keeps up.
const causeWait = time.Second

// Lookup implements app.Profiles; the caller bounds it with its context.
func (p *ProfileClient) Lookup(ctx context.Context, tenant string, c invitation.Customer, afterEventID string) (app.Profile, bool, error) {
	ident := &journeyv1.Customer{CustomerId: c.CustomerID, Email: c.Email, Phone: c.Phone, AnonymousId: c.AnonymousID}
	req := &profilev1.GetProfileRequest{Tenant: tenant, Customer: &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_Identity{Identity: ident}}}
	var resp *profilev1.GetProfileResponse
	var err error
	if afterEventID != "" {
		actx, cancel := context.WithTimeout(ctx, causeWait)
		req.AfterEventId = afterEventID
		resp, err = p.client.GetProfile(actx, req)
		cancel()
		if code := status.Code(err); (code == codes.Unavailable || code == codes.DeadlineExceeded) && ctx.Err() == nil {
			// Not folded within the wait (or never folded: a fan-out's
			// cause): the profile as it is.
			req.AfterEventId = ""
			resp, err = p.client.GetProfile(ctx, req)
		}
	} else {
		resp, err = p.client.GetProfile(ctx, req)
	}
	if status.Code(err) == codes.NotFound {
		return app.Profile{}, false, nil
	}
	if err != nil {
		return app.Profile{}, false, fmt.Errorf("profile service: %w", err)
	}
	pr := resp.GetProfile()
	out := app.Profile{ID: pr.GetProfileId(), Locale: pr.GetTraits().GetLocale(), Segments: pr.GetSegments(),
		HasEmail: len(pr.GetIdentities().GetEmails()) > 0, HasPhone: len(pr.GetIdentities().GetPhones()) > 0}
	switch pr.GetTraits().GetPreferredChannel() {
	case journeyv1.Channel_CHANNEL_EMAIL:
		out.PreferredChannel = invitation.Email
	case journeyv1.Channel_CHANNEL_SMS:
		out.PreferredChannel = invitation.SMS
	}
	return out, true, nil
}
