package notification

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// Profile is what the notification service needs to know of a customer,
// read from the profile service.
type Profile struct {
	// Key identifies the customer across identities: the profile id when
	// the profile service knows the customer.
	Key       string
	Found     bool
	FirstName string
	LastName  string
	Emails    []string
	Phones    []string
	Locale    string
	TimeZone  string
	Preferred Channel
	// Consents maps a channel to the customer's marketing consent on it;
	// absent means never given.
	Consents map[Channel]bool
	// Doc is the whole profile as template data.
	Doc map[string]any
}

// AddressKey names an address (an email, a phone number) for unsubscribes
// without holding it: "addr:" and a hash of its normal form. An unsubscribe
// recorded under it holds whatever profile the address belongs to later —
// a guest's profile created afterwards, two profiles merged.
func AddressKey(c Channel, address string) string {
	a := strings.ToLower(strings.TrimSpace(address))
	if c == SMS {
		var digits strings.Builder
		for _, r := range a {
			if r >= '0' && r <= '9' {
				digits.WriteRune(r)
			}
		}
		a = digits.String()
	}
	if a == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(string(c) + ":" + a))
	return "addr:" + hex.EncodeToString(sum[:16])
}

// Contact is where a channel reaches the customer: an address, a number,
// or "" when the channel has none.
func (p *Profile) Contact(c Channel, req Customer) string {
	switch c {
	case Email:
		if req.Email != "" {
			return req.Email
		}
		if len(p.Emails) > 0 {
			return p.Emails[0]
		}
	case SMS:
		if req.Phone != "" {
			return req.Phone
		}
		if len(p.Phones) > 0 {
			return p.Phones[0]
		}
	case Push, Webhook:
		// The shop's webhook receiver knows its own customer by the ids
		// the message carries.
		return "customer"
	}
	return ""
}

// Choice is the outcome of channel choice: the channels to try in order, or
// why none may be used.
type Choice struct {
	Channels []Channel
	// Reason is set when Channels is empty: no_consent, unsubscribed,
	// no_contact or no_template_content, for the first channel considered.
	Reason string
	// Considered is the first channel considered, for the record.
	Considered Channel
}

// ChoiceInput is what channel choice depends on.
type ChoiceInput struct {
	Requested       Channel
	DisableFallback bool
	Category        Category
	Profile         *Profile
	Customer        Customer
	// Available lists the channels the template has content for and a
	// provider is configured for.
	Available []Channel
	// Unsubscribed reports whether the customer left channel c.
	Unsubscribed func(c Channel) bool
}

// Choose picks the channels a notification may use, best first: the
// requested one (or the customer's preferred one when none was requested),
// then — unless fallback is off — every other allowed channel. A channel is
// allowed when the template has content for it, the customer can be reached
// on it, has not unsubscribed from it, and, for marketing, has consented to
// it. A channel requested explicitly but not allowed is not swapped for
// another: the notification is suppressed with the reason, because the
// caller chose that channel on purpose.
func Choose(in ChoiceInput) Choice {
	order := make([]Channel, 0, len(Channels))
	first := in.Requested
	if first == "" {
		first = in.Profile.Preferred
	}
	if first != "" {
		order = append(order, first)
	}
	for _, c := range Channels {
		if c != first {
			order = append(order, c)
		}
	}
	var out Choice
	for i, c := range order {
		reason := in.refuse(c)
		if out.Considered == "" {
			out.Considered = c
			out.Reason = reason
		}
		if reason == "" {
			out.Channels = append(out.Channels, c)
		}
		if i == 0 && in.Requested != "" && (reason != "" || in.DisableFallback) {
			break
		}
		if in.DisableFallback && len(out.Channels) > 0 {
			break
		}
	}
	if len(out.Channels) > 0 {
		out.Reason = ""
	}
	return out
}

// refuse returns why channel c may not be used, or "".
func (in ChoiceInput) refuse(c Channel) string {
	switch {
	case !slices.Contains(in.Available, c):
		return ReasonNoContent
	case in.Profile.Contact(c, in.Customer) == "":
		return ReasonNoContact
	case in.Unsubscribed != nil && in.Unsubscribed(c):
		return ReasonUnsubscribed
	case in.Category == Marketing && !in.Profile.Consents[c]:
		return ReasonNoConsent
	}
	return ""
}
