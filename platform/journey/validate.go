package journey

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
)

// FieldError names a field of an event in its JSON form and what is wrong
// with it.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Errors is the list of everything wrong with one event. It is an error.
type Errors []FieldError

func (e Errors) Error() string {
	parts := make([]string, len(e))
	for i, f := range e {
		if f.Field == "" {
			parts[i] = f.Reason
		} else {
			parts[i] = f.Field + ": " + f.Reason
		}
	}
	return "invalid event: " + strings.Join(parts, "; ")
}

func (e *Errors) add(field, format string, args ...any) {
	*e = append(*e, FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
}

// Rules are what an event is validated against.
type Rules struct {
	// Tenant is the authenticated tenant; an event naming another is refused.
	Tenant string
	// Now is the receiver's clock.
	Now time.Time
	// MaxFuture is how far past Now an occurred_at may be (clock skew).
	MaxFuture time.Duration
	// AllowInternal lets Bazgasht's own services publish internal types.
	AllowInternal bool
}

// MaxIDLength bounds event ids and other identifiers.
const MaxIDLength = 128

var (
	amountRE   = regexp.MustCompile(`^[0-9]{1,18}(\.[0-9]{1,9})?$`)
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
	phoneRE    = regexp.MustCompile(`^\+?[0-9][0-9 ()-]{4,24}$`)
	localeRE   = regexp.MustCompile(`^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$`)
)

// Validate returns everything wrong with ev under r, or nil.
func Validate(ev *journeyv1.JourneyEvent, r Rules) Errors {
	var errs Errors
	checkID(&errs, "id", ev.GetId(), true)
	if ev.GetTenant() != "" && ev.GetTenant() != r.Tenant {
		errs.add("tenant", "names another tenant than the API key's; leave it out, the key decides")
	}

	info, isKnown := Lookup(ev.GetType())
	switch {
	case ev.GetType() == "":
		errs.add("type", "is required, such as \"order.placed\"")
	case !typeRE.MatchString(ev.GetType()) || len(ev.GetType()) > 64:
		errs.add("type", "%q must be a dotted lower-case name such as \"order.placed\" or \"wishlist.added\"", ev.GetType())
	case isKnown && info.Internal && !r.AllowInternal:
		errs.add("type", "%q is published by Bazgasht itself and cannot be sent by a shop", ev.GetType())
	}

	checkCustomer(&errs, ev.GetCustomer(), isKnown && info.Catalog)

	if ts := ev.GetOccurredAt(); ts != nil {
		if err := ts.CheckValid(); err != nil {
			errs.add("occurred_at", "is not a valid timestamp: %v", err)
		} else if t := ts.AsTime(); t.After(r.Now.Add(r.MaxFuture)) {
			errs.add("occurred_at", "%s is more than %s in the future; check the sender's clock", t.Format(time.RFC3339), r.MaxFuture)
		}
	}

	payload := payloadField(ev)
	switch {
	case isKnown && payload == nil:
		errs.add(string(info.Payload.Name()), "is required for type %s", info.Name)
	case isKnown && payload.Number() != info.Payload.Number():
		errs.add(string(payload.Name()), "does not match type %s; send %s instead", info.Name, info.Payload.Name())
	case !isKnown && payload != nil:
		errs.add(string(payload.Name()), "is the body of a known type, but type %q is custom; put custom data in properties", ev.GetType())
	case isKnown:
		checkPayload(&errs, ev)
	}
	return errs
}

// payloadField is the payload field set on ev, or nil.
func payloadField(ev *journeyv1.JourneyEvent) protoreflect.FieldDescriptor {
	m := ev.ProtoReflect()
	return m.WhichOneof(m.Descriptor().Oneofs().ByName("payload"))
}

func checkID(errs *Errors, field, id string, required bool) {
	if id == "" {
		if required {
			errs.add(field, "is required")
		}
		return
	}
	if len(id) > MaxIDLength {
		errs.add(field, "is %d characters; at most %d", len(id), MaxIDLength)
		return
	}
	for _, c := range id {
		if c < 0x21 || c > 0x7e {
			errs.add(field, "may hold only visible ASCII characters, no spaces")
			return
		}
	}
}

func checkCustomer(errs *Errors, c *journeyv1.Customer, catalog bool) {
	if c.GetCustomerId() == "" && c.GetEmail() == "" && c.GetPhone() == "" && c.GetAnonymousId() == "" {
		if !catalog {
			errs.add("customer", "needs at least one of customer_id, email, phone or anonymous_id")
		}
		return
	}
	if len(c.GetCustomerId()) > MaxIDLength {
		errs.add("customer.customer_id", "is longer than %d characters", MaxIDLength)
	}
	if len(c.GetAnonymousId()) > MaxIDLength {
		errs.add("customer.anonymous_id", "is longer than %d characters", MaxIDLength)
	}
	if e := c.GetEmail(); e != "" {
		at := strings.LastIndexByte(e, '@')
		if at < 1 || at == len(e)-1 || len(e) > 254 || strings.ContainsAny(e, " \t\r\n<>") {
			errs.add("customer.email", "is not an email address")
		}
	}
	if p := c.GetPhone(); p != "" && !phoneRE.MatchString(p) {
		errs.add("customer.phone", "is not a phone number; use E.164 such as +989121234567")
	}
}

func checkMoney(errs *Errors, field string, m *journeyv1.Money, required bool) {
	if m == nil {
		if required {
			errs.add(field, "is required")
		}
		return
	}
	if !currencyRE.MatchString(m.GetCurrency()) {
		errs.add(field+".currency", "%q must be a three-letter code such as IRR, IRT or EUR", m.GetCurrency())
	}
	if !amountRE.MatchString(m.GetAmount()) {
		errs.add(field+".amount", "%q must be a non-negative decimal string such as \"1250000\" or \"19.99\"", m.GetAmount())
	}
}

func checkProduct(errs *Errors, field string, p *journeyv1.Product) {
	if p.GetProductId() == "" {
		errs.add(field+".product_id", "is required")
	}
	checkID(errs, field+".product_id", p.GetProductId(), false)
	if p.GetPrice() != nil {
		checkMoney(errs, field+".price", p.GetPrice(), false)
	}
}

func checkItems(errs *Errors, field string, items []*journeyv1.LineItem) {
	for i, it := range items {
		f := fmt.Sprintf("%s[%d]", field, i)
		checkProduct(errs, f+".product", it.GetProduct())
		if it.GetQuantity() < 1 {
			errs.add(f+".quantity", "must be at least 1")
		}
		if it.GetUnitPrice() != nil {
			checkMoney(errs, f+".unit_price", it.GetUnitPrice(), false)
		}
	}
}

func required(errs *Errors, field, v string) {
	if v == "" {
		errs.add(field, "is required")
	}
}

// checkPayload checks the body of a known type whose payload matches it.
func checkPayload(errs *Errors, ev *journeyv1.JourneyEvent) {
	switch ev.GetPayload().(type) {
	case *journeyv1.JourneyEvent_OrderPlaced:
		b := ev.GetOrderPlaced()
		required(errs, "order_placed.order_id", b.GetOrderId())
		checkMoney(errs, "order_placed.total", b.GetTotal(), true)
		for name, m := range map[string]*journeyv1.Money{"subtotal": b.GetSubtotal(), "discount": b.GetDiscount(), "shipping": b.GetShipping(), "tax": b.GetTax()} {
			checkMoney(errs, "order_placed."+name, m, false)
		}
		checkItems(errs, "order_placed.items", b.GetItems())
	case *journeyv1.JourneyEvent_OrderPaid:
		required(errs, "order_paid.order_id", ev.GetOrderPaid().GetOrderId())
		checkMoney(errs, "order_paid.amount", ev.GetOrderPaid().GetAmount(), false)
	case *journeyv1.JourneyEvent_OrderShipped:
		required(errs, "order_shipped.order_id", ev.GetOrderShipped().GetOrderId())
		checkItems(errs, "order_shipped.items", ev.GetOrderShipped().GetItems())
	case *journeyv1.JourneyEvent_OrderDelivered:
		required(errs, "order_delivered.order_id", ev.GetOrderDelivered().GetOrderId())
	case *journeyv1.JourneyEvent_OrderCancelled:
		required(errs, "order_cancelled.order_id", ev.GetOrderCancelled().GetOrderId())
	case *journeyv1.JourneyEvent_OrderRefunded:
		required(errs, "order_refunded.order_id", ev.GetOrderRefunded().GetOrderId())
		checkMoney(errs, "order_refunded.amount", ev.GetOrderRefunded().GetAmount(), true)
		checkItems(errs, "order_refunded.items", ev.GetOrderRefunded().GetItems())
	case *journeyv1.JourneyEvent_ProductViewed:
		checkProduct(errs, "product_viewed.product", ev.GetProductViewed().GetProduct())
	case *journeyv1.JourneyEvent_CartUpdated:
		required(errs, "cart_updated.cart_id", ev.GetCartUpdated().GetCartId())
		checkItems(errs, "cart_updated.items", ev.GetCartUpdated().GetItems())
		checkMoney(errs, "cart_updated.total", ev.GetCartUpdated().GetTotal(), false)
	case *journeyv1.JourneyEvent_ProductBackInStock:
		checkProduct(errs, "product_back_in_stock.product", ev.GetProductBackInStock().GetProduct())
	case *journeyv1.JourneyEvent_CustomerUpdated:
		checkCustomerUpdated(errs, ev.GetCustomerUpdated())
	case *journeyv1.JourneyEvent_TicketOpened:
		required(errs, "ticket_opened.ticket_id", ev.GetTicketOpened().GetTicketId())
	case *journeyv1.JourneyEvent_TicketMessage:
		required(errs, "ticket_message.ticket_id", ev.GetTicketMessage().GetTicketId())
	case *journeyv1.JourneyEvent_TicketResolved:
		required(errs, "ticket_resolved.ticket_id", ev.GetTicketResolved().GetTicketId())
	case *journeyv1.JourneyEvent_TicketReopened:
		required(errs, "ticket_reopened.ticket_id", ev.GetTicketReopened().GetTicketId())
	case *journeyv1.JourneyEvent_SurveyResponded:
		checkSurveyResponse(errs, ev.GetSurveyResponded())
	}
}

func checkCustomerUpdated(errs *Errors, b *journeyv1.CustomerUpdated) {
	if l := b.GetLocale(); l != "" && !localeRE.MatchString(l) {
		errs.add("customer_updated.locale", "%q is not a language tag such as \"fa\" or \"en-US\"", l)
	}
	if tz := b.GetTimeZone(); tz != "" {
		if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
			errs.add("customer_updated.time_zone", "%q is not an IANA time zone such as \"Asia/Tehran\"", tz)
		}
	}
	for i, c := range b.GetConsents() {
		if c.GetChannel() == journeyv1.Channel_CHANNEL_UNSPECIFIED {
			errs.add(fmt.Sprintf("customer_updated.consents[%d].channel", i), "is required")
		}
	}
}

func checkSurveyResponse(errs *Errors, b *journeyv1.SurveyResponded) {
	required(errs, "survey_responded.survey_id", b.GetSurveyId())
	lo, hi := int32(1), int32(5)
	switch b.GetKind() {
	case journeyv1.SurveyKind_SURVEY_KIND_NPS:
		lo, hi = 0, 10
	case journeyv1.SurveyKind_SURVEY_KIND_UNSPECIFIED:
		errs.add("survey_responded.kind", "is required: SURVEY_KIND_NPS, SURVEY_KIND_CSAT or SURVEY_KIND_CES")
		return
	}
	if s := b.GetScore(); s < lo || s > hi {
		errs.add("survey_responded.score", "%d is out of range %d-%d for %s", s, lo, hi, b.GetKind())
	}
}
