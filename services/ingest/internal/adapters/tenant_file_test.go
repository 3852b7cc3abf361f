package adapters_test

import (
	"strings"
	"testing"

	"github.com/bazgasht/bazgasht/services/ingest/internal/adapters"
)

const keyHash = "0000000000000000000000000000000000000000000000000000000000000001"

// The tenants file's phone_country_code fills in for the default, and a
// wrong one stops the service naming the tenant and the field.
func TestTenantPhoneCountryCode(t *testing.T) {
	t.Parallel()
	doc := `{"tenants":[{"id":"ir","api_key_sha256":["` + keyHash + `"],"phone_country_code":"98"},{"id":"other","api_key_sha256":["` + strings.Replace(keyHash, "1", "2", 1) + `"]}]}`
	dir, err := adapters.LoadTenants("", doc, adapters.Defaults{PhoneCountryCode: "44"})
	if err != nil {
		t.Fatal(err)
	}
	ir, _ := dir.ByID("ir")
	other, _ := dir.ByID("other")
	if ir.PhoneCountryCode != "98" || other.PhoneCountryCode != "44" {
		t.Fatalf("country codes %q and %q, want 98 (its own) and 44 (the default)", ir.PhoneCountryCode, other.PhoneCountryCode)
	}
	for _, bad := range []string{"+98", "098", "9a", "1234"} {
		doc := `{"tenants":[{"id":"ir","api_key_sha256":["` + keyHash + `"],"phone_country_code":"` + bad + `"}]}`
		if _, err := adapters.LoadTenants("", doc, adapters.Defaults{}); err == nil || !strings.Contains(err.Error(), "tenants[0].phone_country_code") {
			t.Errorf("phone_country_code %q: err %v, want one naming tenants[0].phone_country_code", bad, err)
		}
	}
}
