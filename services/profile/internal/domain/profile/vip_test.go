package profile_test

import (
	"testing"

	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

func TestTopCutoff(t *testing.T) {
	t.Parallel()
	revenues := []string{"100", "900", "50", "400", "1000.5", "20", "300", "700", "10", "5"}
	cases := []struct {
		name    string
		in      []string
		percent float64
		want    string
	}{
		{"top 10% of 10 is the single largest", revenues, 10, "1000.5"},
		{"top 20% of 10 is the two largest", revenues, 20, "900"},
		{"top 25% rounds up to 3 customers", revenues, 25, "700"},
		{"top 100% is everyone", revenues, 100, "5"},
		{"a tiny percent still names one customer", revenues, 0.01, "1000.5"},
		{"numbers compare as numbers, not strings", []string{"9", "10", "100"}, 34, "10"},
		{"off", revenues, 0, ""},
		{"no customers", nil, 10, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := profile.TopCutoff(tc.in, tc.percent); got != tc.want {
				t.Fatalf("TopCutoff(%v, %v) = %q, want %q", tc.in, tc.percent, got, tc.want)
			}
		})
	}
}

func TestWithCutoffsTakesTheLowerThreshold(t *testing.T) {
	t.Parallel()
	r := profile.Rules{VIPRevenue: profile.Amounts{"IRT": "50000000", "USD": "1000"}}
	got := r.WithCutoffs(profile.Amounts{"IRT": "8000000", "EUR": "700", "USD": "5000"}).VIPRevenue
	want := profile.Amounts{"IRT": "8000000", "USD": "1000", "EUR": "700"}
	if len(got) != len(want) {
		t.Fatalf("VIPRevenue = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("VIPRevenue = %v, want %v", got, want)
		}
	}
	if r.VIPRevenue["IRT"] != "50000000" {
		t.Fatal("WithCutoffs changed the rules it was called on")
	}
}
