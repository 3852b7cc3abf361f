// Package tenant holds the shops that publish into Bazgasht and how they are
// recognised: API keys stored only as SHA-256 hashes and compared in
// constant time, and the secrets their shop platforms sign webhooks with.
package tenant

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrUnauthenticated means a key or signature did not match any tenant.
var ErrUnauthenticated = errors.New("missing or wrong API key")

// Tenant is one shop.
type Tenant struct {
	// ID names the tenant in subjects and every record.
	ID string
	// KeyHashes are the SHA-256 hashes of the tenant's API keys; more than
	// one lets a shop rotate keys without downtime.
	KeyHashes [][sha256.Size]byte
	// ShopifySecret signs the shop's Shopify webhooks (empty: not enabled).
	ShopifySecret string
	// WooCommerceSecret signs the shop's WooCommerce webhooks.
	WooCommerceSecret string
	// RatePerSecond and Burst bound how many events the tenant may send.
	RatePerSecond float64
	Burst         int
	// PhoneCountryCode (such as "98") turns the national phone numbers the
	// shop sends (09121234567) into E.164 (+989121234567); empty leaves
	// them.
	PhoneCountryCode string
}

// HashKey returns the stored form of an API key.
func HashKey(key string) [sha256.Size]byte { return sha256.Sum256([]byte(key)) }

// ParseKeyHash reads a hex SHA-256 key hash.
func ParseKeyHash(s string) ([sha256.Size]byte, error) {
	var h [sha256.Size]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return h, fmt.Errorf("api key hash %q is not 64 hex digits (sha256sum of the key)", s)
	}
	copy(h[:], b)
	return h, nil
}

// Directory finds tenants by API key or id. It is read-only after
// construction and safe for concurrent use.
type Directory struct {
	tenants []*Tenant
	byID    map[string]*Tenant
}

// NewDirectory checks the tenants and indexes them.
func NewDirectory(tenants []*Tenant) (*Directory, error) {
	d := &Directory{byID: map[string]*Tenant{}}
	seen := map[[sha256.Size]byte]string{}
	for _, t := range tenants {
		if _, dup := d.byID[t.ID]; dup {
			return nil, fmt.Errorf("tenant %q is listed twice", t.ID)
		}
		if len(t.KeyHashes) == 0 && t.ShopifySecret == "" && t.WooCommerceSecret == "" {
			return nil, fmt.Errorf("tenant %q has no API key and no webhook secret: it could never publish", t.ID)
		}
		for _, h := range t.KeyHashes {
			if other, dup := seen[h]; dup {
				return nil, fmt.Errorf("tenants %q and %q share an API key", other, t.ID)
			}
			seen[h] = t.ID
		}
		d.byID[t.ID] = t
		d.tenants = append(d.tenants, t)
	}
	return d, nil
}

// Authenticate returns the tenant whose API key is key. Every stored hash is
// compared, in constant time, whether or not an earlier one matched, so the
// time taken says nothing about which keys exist.
func (d *Directory) Authenticate(key string) (*Tenant, error) {
	if key == "" {
		return nil, ErrUnauthenticated
	}
	h := HashKey(key)
	var found *Tenant
	for _, t := range d.tenants {
		for _, kh := range t.KeyHashes {
			if subtle.ConstantTimeCompare(h[:], kh[:]) == 1 {
				found = t
			}
		}
	}
	if found == nil {
		return nil, ErrUnauthenticated
	}
	return found, nil
}

// ByID returns the tenant named id, for webhooks whose path names it; the
// signature, not the name, then proves who sent them.
func (d *Directory) ByID(id string) (*Tenant, bool) {
	t, ok := d.byID[id]
	return t, ok
}

// IDs lists every tenant id.
func (d *Directory) IDs() []string {
	ids := make([]string, len(d.tenants))
	for i, t := range d.tenants {
		ids[i] = t.ID
	}
	return ids
}
