package journey_test

import (
	"testing"

	"github.com/bazgasht/bazgasht/platform/journey"
)

func TestNormalizePhone(t *testing.T) {
	tests := []struct{ in, cc, want string }{
		{"+989121234567", "98", "+989121234567"},
		{"09121234567", "98", "+989121234567"},
		{"0912 123 4567", "98", "+989121234567"},
		{"۰۹۱۲۱۲۳۴۵۶۷", "98", "+989121234567"},
		{"٠٩١٢١٢٣٤٥٦٧", "98", "+989121234567"},
		{"00989121234567", "98", "+989121234567"},
		{"(0912) 123-45.67", "98", "+989121234567"},
		{"09121234567", "", "09121234567"}, // no country: left national
		{"+44 20 7946 0958", "98", "+442079460958"},
		{"not a phone", "98", "notaphone"}, // validation judges it
	}
	for _, tc := range tests {
		if got := journey.NormalizePhone(tc.in, tc.cc); got != tc.want {
			t.Errorf("NormalizePhone(%q, %q) = %q, want %q", tc.in, tc.cc, got, tc.want)
		}
	}
}
