package tenant_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bazgasht/bazgasht/services/ingest/internal/domain/tenant"
)

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	d, err := tenant.NewDirectory([]*tenant.Tenant{
		{ID: "demo", KeyHashes: [][32]byte{tenant.HashKey("old-key"), tenant.HashKey("new-key")}},
		{ID: "other", KeyHashes: [][32]byte{tenant.HashKey("other-key")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, key, want string
	}{
		{"current key", "new-key", "demo"},
		{"rotated-out key still listed", "old-key", "demo"},
		{"another tenant's key gives that tenant", "other-key", "other"},
		{"wrong key", "new-key2", ""},
		{"empty key", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := d.Authenticate(tc.key)
			if tc.want == "" {
				if !errors.Is(err, tenant.ErrUnauthenticated) {
					t.Fatalf("Authenticate(%q) = %v, %v; want ErrUnauthenticated", tc.key, got, err)
				}
				return
			}
			if err != nil || got.ID != tc.want {
				t.Fatalf("Authenticate(%q) = %v, %v; want %s", tc.key, got, err, tc.want)
			}
		})
	}
}

func TestNewDirectoryRefusesAmbiguousTenants(t *testing.T) {
	t.Parallel()
	k := tenant.HashKey("k")
	cases := []struct {
		name    string
		tenants []*tenant.Tenant
		want    string
	}{
		{"duplicate id", []*tenant.Tenant{{ID: "a", KeyHashes: [][32]byte{k}}, {ID: "a", KeyHashes: [][32]byte{tenant.HashKey("x")}}}, "listed twice"},
		{"shared key", []*tenant.Tenant{{ID: "a", KeyHashes: [][32]byte{k}}, {ID: "b", KeyHashes: [][32]byte{k}}}, "share an API key"},
		{"no way in", []*tenant.Tenant{{ID: "a"}}, "no API key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := tenant.NewDirectory(tc.tenants); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewDirectory = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseKeyHash(t *testing.T) {
	t.Parallel()
	if _, err := tenant.ParseKeyHash("abc"); err == nil {
		t.Fatal("short hash accepted")
	}
	// sha256sum of "dev-key", as an operator would write it into the tenants file.
	h := tenant.HashKey("dev-key")
	got, err := tenant.ParseKeyHash(fmt.Sprintf("%x", h))
	if err != nil || got != h {
		t.Fatalf("ParseKeyHash = %x, %v; want %x", got, err, h)
	}
}
