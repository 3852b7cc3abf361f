package adapters

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/bazgasht/bazgasht/platform/journey"
	"github.com/bazgasht/bazgasht/services/ingest/internal/domain/tenant"
)

// tenantsDoc is the tenants file: JSON, usually mounted from a Kubernetes
// Secret. Keys are stored only as SHA-256 hex (`printf %s KEY | sha256sum`).
type tenantsDoc struct {
	Tenants []struct {
		ID                string   `json:"id"`
		APIKeySHA256      []string `json:"api_key_sha256"`
		ShopifySecret     string   `json:"shopify_secret"`
		WooCommerceSecret string   `json:"woocommerce_secret"`
		RatePerSecond     *float64 `json:"rate_per_second"`
		Burst             *int     `json:"burst"`
		PhoneCountryCode  *string  `json:"phone_country_code"`
	} `json:"tenants"`
}

// Defaults fill what a tenant entry leaves out.
type Defaults struct {
	RatePerSecond    float64
	Burst            int
	PhoneCountryCode string
}

// CheckCountryCode accepts a country calling code without its '+': one to
// three digits, not starting with 0 ("" for none).
func CheckCountryCode(cc string) error {
	if cc == "" {
		return nil
	}
	if len(cc) > 3 || cc[0] == '0' || strings.Trim(cc, "0123456789") != "" {
		return fmt.Errorf("%q is not a country calling code such as \"98\" (digits, no '+')", cc)
	}
	return nil
}

// LoadTenants reads the tenants from the file at path, or from inline JSON
// when path is empty, and builds the directory. Every problem names the
// tenant and field at fault.
func LoadTenants(path, inline string, d Defaults) (*tenant.Directory, error) {
	data := []byte(inline)
	src := "INGEST_TENANTS"
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("tenants file: %w", err)
		}
		src = path
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("no tenants: set INGEST_TENANTS_FILE to a tenants file or INGEST_TENANTS to its JSON")
	}
	var doc tenantsDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	var ts []*tenant.Tenant
	for i, e := range doc.Tenants {
		where := fmt.Sprintf("%s: tenants[%d]", src, i)
		if err := journey.CheckTenant(e.ID); err != nil {
			return nil, fmt.Errorf("%s.id: %w", where, err)
		}
		t := &tenant.Tenant{ID: e.ID, ShopifySecret: e.ShopifySecret, WooCommerceSecret: e.WooCommerceSecret, RatePerSecond: d.RatePerSecond, Burst: d.Burst,
			PhoneCountryCode: d.PhoneCountryCode}
		if e.PhoneCountryCode != nil {
			if err := CheckCountryCode(*e.PhoneCountryCode); err != nil {
				return nil, fmt.Errorf("%s.phone_country_code: %w", where, err)
			}
			t.PhoneCountryCode = *e.PhoneCountryCode
		}
		for j, hx := range e.APIKeySHA256 {
			h, err := tenant.ParseKeyHash(hx)
			if err != nil {
				return nil, fmt.Errorf("%s.api_key_sha256[%d]: %w", where, j, err)
			}
			t.KeyHashes = append(t.KeyHashes, h)
		}
		if e.RatePerSecond != nil {
			t.RatePerSecond = *e.RatePerSecond
		}
		if e.Burst != nil {
			t.Burst = *e.Burst
		}
		if t.RatePerSecond > 0 && t.Burst < 1000 {
			return nil, fmt.Errorf("%s.burst: %d is below 1000, the largest batch; such a batch could never be admitted", where, t.Burst)
		}
		ts = append(ts, t)
	}
	dir, err := tenant.NewDirectory(ts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	return dir, nil
}
