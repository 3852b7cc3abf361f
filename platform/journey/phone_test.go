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
		{"+98 (0)912 123 4567", "98", "+989121234567"},
		{"\u200e+98 912 123 4567\u200e", "98", "+989121234567"},
		{"+44 20 7946 0958", "98", "+442079460958"},
		{"0044 20 7946 0958", "98", "00442079460958"}, // another country's 00: left for validation
		// Without a country code only the digits change: nothing stored
		// before is keyed differently.
		{"09121234567", "", "09121234567"},
		{"0912 123 4567", "", "0912 123 4567"},
		{"۰۹۱۲ ۱۲۳ ۴۵۶۷", "", "0912 123 4567"},
		{"00989121234567", "", "00989121234567"},
	}
	for _, tc := range tests {
		if got := journey.NormalizePhone(tc.in, tc.cc); got != tc.want {
			t.Errorf("NormalizePhone(%q, %q) = %q, want %q", tc.in, tc.cc, got, tc.want)
		}
		if again := journey.NormalizePhone(journey.NormalizePhone(tc.in, tc.cc), tc.cc); again != journey.NormalizePhone(tc.in, tc.cc) {
			t.Errorf("NormalizePhone(%q, %q) is not stable: %q", tc.in, tc.cc, again)
		}
	}
}
