// Package profile is the 360° customer profile: the identities a customer is
// known by, the events folded into what the shop knows of them, and the
// lifecycle stage and segments derived from it. It is pure: no storage, no
// transport. Every fold is keyed by event time, so applying the same events
// in any order gives the same profile.
package profile

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Kind is a kind of identity.
type Kind string

// Identity kinds, in order of authority: a customer id names a known
// customer; an anonymous id a visitor.
const (
	CustomerID  Kind = "customer_id"
	Email       Kind = "email"
	Phone       Kind = "phone"
	AnonymousID Kind = "anonymous_id"
)

// Identity is one id a customer is known by.
type Identity struct {
	Kind  Kind   `json:"k"`
	Value string `json:"v"`
}

// Normalized returns the identity in the form identities are compared in:
// emails lower-cased, phones with only digits and a leading '+'.
func (i Identity) Normalized() Identity {
	v := strings.TrimSpace(i.Value)
	switch i.Kind {
	case Email:
		v = strings.ToLower(v)
	case Phone:
		var b strings.Builder
		for j, r := range v {
			if (r >= '0' && r <= '9') || (r == '+' && j == 0) {
				b.WriteRune(r)
			}
		}
		v = b.String()
	}
	return Identity{Kind: i.Kind, Value: v}
}

// Key is a stable opaque key for the identity: a hash, so no email or phone
// appears in storage keys. It is unsalted, so it hides an identity from a
// casual reader, not from someone who tries every phone number.
func (i Identity) Key() string {
	n := i.Normalized()
	sum := sha256.Sum256([]byte(string(n.Kind) + ":" + n.Value))
	return hex.EncodeToString(sum[:16])
}

// Known reports whether the identity names a known customer, not a visitor.
func (i Identity) Known() bool { return i.Kind != AnonymousID }

// ProfileIDFor derives the id of a new profile from the identity that
// created it, so replaying the journey from the start creates the same ids.
func ProfileIDFor(tenant string, first Identity) string {
	n := first.Normalized()
	sum := sha256.Sum256([]byte(tenant + "\x00" + string(n.Kind) + ":" + n.Value))
	return "p_" + hex.EncodeToString(sum[:10])
}

// FirstOfEach returns the first identity of each kind, the ones a profile is
// addressed by.
func FirstOfEach(ids []Identity) map[Kind]string {
	out := map[Kind]string{}
	for _, id := range ids {
		if _, ok := out[id.Kind]; !ok {
			out[id.Kind] = id.Value
		}
	}
	return out
}
