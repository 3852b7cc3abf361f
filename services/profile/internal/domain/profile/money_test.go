package profile_test

import (
	"testing"

	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

func TestSum(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, a, b, want string
	}{
		{"two toman orders", "960000", "1250000", "2210000"},
		{"cents add exactly, unlike float64", "0.1", "0.2", "0.3"},
		{"18-digit rial amounts carry into 19 digits", "999999999999999999", "1", "1000000000000000000"},
		{"18 digits with cents", "123456789012345678.91", "0.09", "123456789012345679"},
		{"two large amounts whose float64 sum is off", "900719925474099.3", "0.1", "900719925474099.4"},
		{"trailing zeros are dropped", "10.50", "0.50", "11"},
		{"a negative amount", "5", "-7.5", "-2.5"},
		{"an empty amount counts as zero", "", "12.5", "12.5"},
		{"nine decimals are kept", "0.000000001", "0.000000001", "0.000000002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, "Sum("+tt.a+", "+tt.b+")", profile.Sum(tt.a, tt.b), tt.want)
			check(t, "Sum("+tt.b+", "+tt.a+")", profile.Sum(tt.b, tt.a), tt.want)
		})
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, a, b, want string
	}{
		{"refund from revenue", "2210000", "250000", "1960000"},
		{"cents subtract exactly, unlike float64", "0.3", "0.1", "0.2"},
		{"a cent off 10^18", "1000000000000000000", "0.01", "999999999999999999.99"},
		{"equal amounts give 0, not -0", "0.1", "0.10", "0"},
		{"a refund larger than the revenue", "10", "12.25", "-2.25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, "Diff("+tt.a+", "+tt.b+")", profile.Diff(tt.a, tt.b), tt.want)
		})
	}
}

func TestLess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"compared as numbers, not strings", "960000", "1250000", true},
		{"compared as numbers, not strings, reversed", "1250000", "960000", false},
		{"equal amounts written differently are not less", "10.5", "10.50", false},
		{"equal amounts written differently, reversed", "10.50", "10.5", false},
		{"18 digits one apart, beyond float64 precision", "100000000000000000", "100000000000000001", true},
		{"18 digits one apart, reversed", "100000000000000001", "100000000000000000", false},
		{"a cent apart on a big amount", "123456789012345678.90", "123456789012345678.91", true},
		{"a negative amount is less than zero", "-1", "0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, "Less("+tt.a+", "+tt.b+")", profile.Less(tt.a, tt.b), tt.want)
		})
	}
}

func TestAverage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, currency, sum string
		n                   int64
		want                string
	}{
		{"USD half a cent rounds to the even cent below", "USD", "0.125", 1, "0.12"},
		{"USD half a cent rounds to the even cent above", "USD", "0.135", 1, "0.14"},
		{"USD 0.145 -> 0.14", "USD", "0.145", 1, "0.14"},
		{"USD 0.155 -> 0.16", "USD", "0.155", 1, "0.16"},
		{"USD half a cent to zero", "USD", "0.005", 1, "0"},
		{"USD just over half a cent rounds up", "USD", "0.1250001", 1, "0.13"},
		{"USD 10 / 3", "USD", "10", 3, "3.33"},
		{"USD 20 / 3", "USD", "20", 3, "6.67"},
		{"USD negative half rounds to even", "USD", "-0.125", 1, "-0.12"},
		{"USD negative half rounds to even, away from zero", "USD", "-0.135", 1, "-0.14"},
		{"IRT has no decimals: 10 / 3", "IRT", "10", 3, "3"},
		{"IRT 2.5 -> 2", "IRT", "5", 2, "2"},
		{"IRT 3.5 -> 4", "IRT", "7", 2, "4"},
		{"IRT two orders", "IRT", "2210000", 2, "1105000"},
		{"IRR has no decimals", "IRR", "20", 3, "7"},
		{"JPY has no decimals", "JPY", "1001", 2, "500"},
		{"KWD has three decimals", "KWD", "1", 8, "0.125"},
		{"KWD half a fils rounds to even", "KWD", "0.0025", 1, "0.002"},
		{"an unknown currency has two decimals", "XYZ", "1", 3, "0.33"},
		{"18 digits without float error", "IRT", "999999999999999999", 1, "999999999999999999"},
		{"19 digits halved, half rounds to even", "IRT", "1000000000000000001", 2, "500000000000000000"},
		{"19 digits halved, half rounds to even, up", "IRT", "1000000000000000003", 2, "500000000000000002"},
		{"no orders: zero", "USD", "100", 0, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, "Average", profile.Average(tt.currency, tt.sum, tt.n), tt.want)
		})
	}
}

func TestAmountsAdd(t *testing.T) {
	t.Parallel()
	a := profile.Amounts{}
	for _, add := range []struct{ currency, amount string }{
		{"IRT", "960000"},
		{"USD", "19.99"},
		{"IRT", "1250000"},
		{"USD", "0.01"},
		{"IRT", "-250000"},
		{"IRR", "999999999999999999"},
		{"IRR", "1"},
	} {
		a.Add(add.currency, add.amount)
	}
	check(t, "amounts per currency", a, profile.Amounts{"IRT": "1960000", "USD": "20", "IRR": "1000000000000000000"})
}
