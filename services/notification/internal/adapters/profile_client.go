package adapters

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	profilev1 "github.com/bazgasht/bazgasht/gen/cx/profile/v1"
	"github.com/bazgasht/bazgasht/services/notification/internal/app"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
)

// ProfileClient reads profiles from the profile service, keeping each for a
// short TTL in memory: a batch of messages to the same customers asks once.
// The TTL bounds how late a consent withdrawn reaches this service; 0 turns
// the cache off.
type ProfileClient struct {
	conn    *grpc.ClientConn
	client  profilev1.ProfileServiceClient
	ttl     time.Duration
	timeout time.Duration
	mu      sync.Mutex
	cache   map[string]cachedProfile
}

type cachedProfile struct {
	p       *notification.Profile
	expires time.Time
}

var _ app.ProfileReader = (*ProfileClient)(nil)

// NewProfileClient connects to the profile service at addr.
func NewProfileClient(addr string, ttl, timeout time.Duration) (*ProfileClient, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
	if err != nil {
		return nil, fmt.Errorf("profile client: %w", err)
	}
	return &ProfileClient{conn: conn, client: profilev1.NewProfileServiceClient(conn), ttl: ttl, timeout: timeout, cache: map[string]cachedProfile{}}, nil
}

// Close closes the connection.
func (p *ProfileClient) Close() error { return p.conn.Close() }

// Profile implements app.ProfileReader.
func (p *ProfileClient) Profile(ctx context.Context, tenant string, c notification.Customer) (*notification.Profile, error) {
	ck := tenant + "\x00" + c.CustomerID + "\x00" + c.Email + "\x00" + c.Phone + "\x00" + c.AnonymousID
	now := time.Now()
	if p.ttl > 0 {
		p.mu.Lock()
		hit, ok := p.cache[ck]
		p.mu.Unlock()
		if ok && now.Before(hit.expires) {
			return hit.p, nil
		}
	}
	ident := &journeyv1.Customer{CustomerId: c.CustomerID, Email: c.Email, Phone: c.Phone, AnonymousId: c.AnonymousID}
	cctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	resp, err := p.client.GetProfile(cctx, &profilev1.GetProfileRequest{Tenant: tenant,
		Customer: &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_Identity{Identity: ident}}})
	var prof *notification.Profile
	switch {
	case status.Code(err) == codes.NotFound:
		prof = &notification.Profile{Key: fallbackKey(c), Consents: map[notification.Channel]bool{}}
	case err != nil:
		return nil, fmt.Errorf("profile service: %w", err)
	default:
		if prof, err = fromProto(resp.GetProfile()); err != nil {
			return nil, err
		}
	}
	if p.ttl > 0 {
		p.mu.Lock()
		if len(p.cache) > 100_000 {
			clear(p.cache)
		}
		p.cache[ck] = cachedProfile{p: prof, expires: now.Add(p.ttl)}
		p.mu.Unlock()
	}
	return prof, nil
}

// fallbackKey names a customer the profile service does not know, for
// unsubscribes and caps.
func fallbackKey(c notification.Customer) string {
	switch {
	case c.CustomerID != "":
		return "customer:" + c.CustomerID
	case c.Email != "":
		return "email:" + c.Email
	case c.Phone != "":
		return "phone:" + c.Phone
	}
	return "anonymous:" + c.AnonymousID
}

// ChannelFromProto maps a proto channel to the domain's; "" for unspecified.
func ChannelFromProto(c journeyv1.Channel) notification.Channel {
	switch c {
	case journeyv1.Channel_CHANNEL_EMAIL:
		return notification.Email
	case journeyv1.Channel_CHANNEL_SMS:
		return notification.SMS
	case journeyv1.Channel_CHANNEL_PUSH:
		return notification.Push
	case journeyv1.Channel_CHANNEL_WEBHOOK:
		return notification.Webhook
	}
	return ""
}

// ChannelToProto maps a domain channel to proto.
func ChannelToProto(c notification.Channel) journeyv1.Channel {
	switch c {
	case notification.Email:
		return journeyv1.Channel_CHANNEL_EMAIL
	case notification.SMS:
		return journeyv1.Channel_CHANNEL_SMS
	case notification.Push:
		return journeyv1.Channel_CHANNEL_PUSH
	case notification.Webhook:
		return journeyv1.Channel_CHANNEL_WEBHOOK
	}
	return journeyv1.Channel_CHANNEL_UNSPECIFIED
}

func fromProto(pp *profilev1.Profile) (*notification.Profile, error) {
	tr := pp.GetTraits()
	p := &notification.Profile{Key: pp.GetProfileId(), Found: true, FirstName: tr.GetFirstName(), LastName: tr.GetLastName(),
		Emails: pp.GetIdentities().GetEmails(), Phones: pp.GetIdentities().GetPhones(), Locale: tr.GetLocale(), TimeZone: tr.GetTimeZone(),
		Preferred: ChannelFromProto(tr.GetPreferredChannel()), Consents: map[notification.Channel]bool{}}
	for _, c := range tr.GetConsents() {
		if ch := ChannelFromProto(c.GetChannel()); ch != "" {
			p.Consents[ch] = c.GetGranted()
		}
	}
	data, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(pp)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &p.Doc); err != nil {
		return nil, err
	}
	return p, nil
}
