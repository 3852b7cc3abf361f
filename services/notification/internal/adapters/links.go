package adapters

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/bazgasht/bazgasht/services/notification/internal/app"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
)

// Links signs and checks unsubscribe links: the token names tenant,
// customer, channel and notification, with an HMAC-SHA256 over them under
// NOTIFICATION_LINK_KEY; it is checked in constant time.
type Links struct {
	key  []byte
	base string
}

var _ app.Links = (*Links)(nil)

// NewLinks signs with key links under base, such as
// "https://notify.example.com".
func NewLinks(key []byte, base string) (*Links, error) {
	if len(key) < 16 {
		return nil, errors.New("links: the signing key must be at least 16 bytes")
	}
	return &Links{key: key, base: strings.TrimRight(base, "/")}, nil
}

// UnsubscribeClaim is what an unsubscribe link says.
type UnsubscribeClaim struct {
	Tenant       string               `json:"t"`
	Customer     string               `json:"c"`
	Channel      notification.Channel `json:"ch"`
	Notification string               `json:"n"`
	// Address is the AddressKey of the address the message went to (a
	// hash, not the address), so the unsubscribe also holds for it.
	Address string `json:"a,omitempty"`
}

// UnsubscribePath is where unsubscribe links point.
const UnsubscribePath = "/unsubscribe/"

// UnsubscribeURL implements app.Links.
func (l *Links) UnsubscribeURL(tenant, customer, address string, ch notification.Channel, id string) string {
	data, _ := json.Marshal(UnsubscribeClaim{Tenant: tenant, Customer: customer, Channel: ch, Notification: id, Address: address})
	payload := base64.RawURLEncoding.EncodeToString(data)
	return l.base + UnsubscribePath + payload + "." + base64.RawURLEncoding.EncodeToString(l.sign(payload))
}

func (l *Links) sign(payload string) []byte {
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte("unsubscribe\x00" + payload))
	return m.Sum(nil)
}

// ErrBadLink is a link that was not signed by this service or was altered.
var ErrBadLink = errors.New("the link is not valid")

// Verify checks a token from an unsubscribe link and returns its claim.
func (l *Links) Verify(tok string) (UnsubscribeClaim, error) {
	payload, sig, ok := strings.Cut(tok, ".")
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err != nil || !hmac.Equal(mac, l.sign(payload)) {
		return UnsubscribeClaim{}, ErrBadLink
	}
	data, err := base64.RawURLEncoding.DecodeString(payload)
	var c UnsubscribeClaim
	if err != nil || json.Unmarshal(data, &c) != nil || !c.Channel.Valid() || c.Tenant == "" || c.Customer == "" {
		return UnsubscribeClaim{}, ErrBadLink
	}
	return c, nil
}
