package shopwebhook

import (
	"fmt"
	"math/big"
	"strings"
)

// The contract's amount: at most 18 digits before the point and 9 after.
const (
	maxIntDigits  = 18
	maxFracDigits = 9
)

// normaliseAmount puts a shop's decimal amount in the contract's form,
// "1250000.00" -> "1250000" and "19.990" -> "19.99", by editing the digits:
// the amount never passes through float64, so nothing is rounded.
func normaliseAmount(s string) (string, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if strings.HasPrefix(whole, "-") {
		return "", fmt.Errorf("%q is negative", s)
	}
	if !allDigits(whole) || !allDigits(frac) || whole == "" {
		return "", fmt.Errorf("%q is not a decimal amount such as \"1250000.00\"", s)
	}
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	frac = strings.TrimRight(frac, "0")
	switch {
	case len(whole) > maxIntDigits:
		return "", fmt.Errorf("%q has more than %d digits before the point", s, maxIntDigits)
	case len(frac) > maxFracDigits:
		return "", fmt.Errorf("%q has more than %d digits after the point", s, maxFracDigits)
	case frac == "":
		return whole, nil
	}
	return whole + "." + frac, nil
}

// roundedAmount is normaliseAmount for a number the shop computed in
// floating point itself, such as WooCommerce's line price (line total /
// quantity, "16.666666666666668"): s / divisor, rounded exactly to the
// contract's 9 decimals in big.Rat.
func roundedAmount(s string, divisor int64) (string, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return "", fmt.Errorf("%q is not a decimal amount such as \"1250000.00\"", s)
	}
	if r.Sign() < 0 {
		return "", fmt.Errorf("%q is negative", s)
	}
	r.Quo(r, new(big.Rat).SetInt64(divisor))
	return normaliseAmount(r.FloatString(maxFracDigits))
}

// sumAbsAmounts adds the absolute values of amounts exactly; WooCommerce
// sends refunds as negative totals ("-350000.00").
func sumAbsAmounts(amounts []string) (string, error) {
	sum := new(big.Rat)
	for _, a := range amounts {
		n, err := normaliseAmount(strings.TrimPrefix(a, "-"))
		if err != nil {
			return "", err
		}
		r, _ := new(big.Rat).SetString(n) // n is a plain decimal now.
		sum.Add(sum, r)
	}
	// Every term has at most 9 decimals, so the sum is exact at 9.
	return normaliseAmount(sum.FloatString(maxFracDigits))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
