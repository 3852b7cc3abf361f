// Package shopwebhook verifies the webhooks Shopify and WooCommerce send
// about orders and maps them to journey events. It decodes and maps only;
// the HTTP handler around it sets the tenant, validates and publishes.
package shopwebhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
)

// ErrUnsupportedTopic is returned, wrapped with the topic, for a webhook
// topic Bazgasht does not map. The caller answers 200 "ignored" so that the
// shop does not retry it or disable the webhook.
var ErrUnsupportedTopic = errors.New("webhook topic is not mapped to a journey event")

// customOrderUpdated is the custom event type of an order change that is
// none of the known order events (an edit, a status such as on-hold).
const customOrderUpdated = "order.updated"

// validBase64HMAC reports whether header is the base64 HMAC-SHA256 of body
// under secret, the signature both Shopify and WooCommerce send.
func validBase64HMAC(body []byte, secret, header string) bool {
	if secret == "" || header == "" {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// scalar is a JSON string or number kept as its literal text. Shops send ids
// and amounts as either, and neither may pass through float64: a 64-bit
// customer id or a toman total would lose digits.
type scalar string

// UnmarshalJSON implements json.Unmarshaler.
func (s *scalar) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*s = ""
	case b[0] == '"':
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		*s = scalar(strings.TrimSpace(str))
	case b[0] == '-' || b[0] >= '0' && b[0] <= '9':
		*s = scalar(b)
	default:
		// An UnmarshalTypeError gets the field's path added by encoding/json.
		kind := map[byte]string{'t': "bool", 'f': "bool", '{': "object", '[': "array"}[b[0]]
		return &json.UnmarshalTypeError{Value: kind, Type: reflect.TypeFor[string]()}
	}
	return nil
}

// mapping builds one event from one webhook. The first error sticks and
// every later step is skipped, so that mapping code reads as a list of
// fields instead of a ladder of error checks.
type mapping struct {
	// where prefixes errors: "shopify orders/create".
	where string
	// currency is the order's, for every amount in it.
	currency string
	// zonelessUTC reads a time without a zone as UTC, as WooCommerce's
	// *_gmt fields are sent.
	zonelessUTC bool
	err         error
}

func (m *mapping) fail(field string, err error) {
	if m.err == nil {
		m.err = fmt.Errorf("%s: %s: %w", m.where, field, err)
	}
}

// money is raw in the order's currency, or nil when the shop sent none.
func (m *mapping) money(field string, raw scalar) *journeyv1.Money {
	if m.err != nil || raw == "" {
		return nil
	}
	amount, err := normaliseAmount(string(raw))
	if err != nil {
		m.fail(field, err)
		return nil
	}
	return &journeyv1.Money{Currency: m.currency, Amount: amount}
}

// timestamp parses an RFC 3339 time, or, when the shop sends none
// (WooCommerce's *_gmt fields), a zone-less time in UTC. Empty is nil: the
// event then defaults to its received time.
func (m *mapping) timestamp(field, s string) *timestamppb.Timestamp {
	if m.err != nil || s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil && m.zonelessUTC {
		t, err = time.ParseInLocation("2006-01-02T15:04:05", s, time.UTC)
	}
	if err != nil {
		m.fail(field, fmt.Errorf("%q is not a timestamp such as \"2026-11-20T14:03:11+03:30\"", s))
		return nil
	}
	return timestamppb.New(t)
}

func (m *mapping) quantity(field string, raw scalar) int32 {
	if m.err != nil {
		return 0
	}
	n, err := strconv.ParseInt(string(raw), 10, 32)
	if err != nil {
		m.fail(field, fmt.Errorf("%q is not a whole number of units", raw))
	}
	return int32(n)
}

func (m *mapping) properties(fields map[string]any) *structpb.Struct {
	if m.err != nil {
		return nil
	}
	s, err := structpb.NewStruct(fields)
	if err != nil {
		m.fail("properties", err)
	}
	return s
}

// orNull is s, or JSON null when s is empty, so that a custom event's
// properties always hold the same keys.
func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// firstNonEmpty returns the first of ss that is not empty.
func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// customer is the event's customer, or nil when the order names nobody; the
// event is still returned and validation upstream says what is missing.
func customer(id, email, phone string) *journeyv1.Customer {
	c := &journeyv1.Customer{CustomerId: id, Email: strings.TrimSpace(email), Phone: normalisePhone(phone)}
	if c.CustomerId == "" && c.Email == "" && c.Phone == "" {
		return nil
	}
	return c
}

// normalisePhone strips what shoppers type around a phone number and turns
// Persian and Arabic-Indic digits into ASCII: "(555) 555-5555" becomes
// "5555555555" and "۰۹۱۲ ۱۲۳ ۴۵۶۷" becomes "09121234567", so that one number
// is one identity when profiles are joined. Anything else is kept for
// validation to report.
func normalisePhone(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '۰' && r <= '۹':
			return '0' + r - '۰'
		case r >= '٠' && r <= '٩':
			return '0' + r - '٠'
		case strings.ContainsRune(" ()-.\u00a0", r):
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}
