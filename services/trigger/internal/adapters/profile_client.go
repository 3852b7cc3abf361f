package adapters

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	profilev1 "github.com/bazgasht/bazgasht/gen/cx/profile/v1"
	"github.com/bazgasht/bazgasht/services/trigger/internal/app"
)

// ProfileClient reads profiles from the profile service, which answers
// from its Redis cache.
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

var _ app.ProfileReader = (*ProfileClient)(nil)

// Profile returns the customer's profile as a JSON tree with proto field
// names, or nil when the profile service does not know the customer yet;
// with afterEventID, once the profile includes that event.
func (p *ProfileClient) Profile(ctx context.Context, tenant string, c app.Customer, afterEventID string) (map[string]any, error) {
	ident := &journeyv1.Customer{CustomerId: c.CustomerID, Email: c.Email, Phone: c.Phone, AnonymousId: c.AnonymousID}
	// A hung profile service must not stall the engine: answer or fail
	// (the profile service gives up waiting for an event after 2 s).
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	resp, err := p.client.GetProfile(ctx, &profilev1.GetProfileRequest{Tenant: tenant, AfterEventId: afterEventID,
		Customer: &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_Identity{Identity: ident}}})
	if status.Code(err) == codes.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("profile service: %w", err)
	}
	data, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(resp.GetProfile())
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	return doc, nil
}
