package profile

import (
	"math/big"
	"strings"
)

// ValidAmount reports whether s is a non-negative decimal amount.
func ValidAmount(s string) bool {
	r, ok := new(big.Rat).SetString(s)
	return ok && r.Sign() >= 0 && !strings.ContainsAny(s, "eE/")
}

// Amounts are exact sums of money per currency, as decimal strings.
type Amounts map[string]string

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return new(big.Rat)
	}
	return r
}

// decimal formats r without trailing zeros, up to 9 decimals.
func decimal(r *big.Rat) string {
	s := r.FloatString(9)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// Add adds amount of currency.
func (a Amounts) Add(currency, amount string) {
	a[currency] = decimal(new(big.Rat).Add(rat(a[currency]), rat(amount)))
}

// Sum is a + b for decimal strings.
func Sum(a, b string) string { return decimal(new(big.Rat).Add(rat(a), rat(b))) }

// Diff is a - b for decimal strings.
func Diff(a, b string) string { return decimal(new(big.Rat).Sub(rat(a), rat(b))) }

// Less reports a < b for decimal strings.
func Less(a, b string) bool { return rat(a).Cmp(rat(b)) < 0 }

// minorUnits is the number of decimals a currency's smallest unit has; the
// rial and the toman have none in practice.
func minorUnits(currency string) int {
	switch currency {
	case "IRR", "IRT", "JPY", "KRW", "IQD":
		return 0
	case "BHD", "KWD", "OMR", "JOD":
		return 3
	}
	return 2
}

// Average is sum / n rounded half-even to the currency's minor unit.
func Average(currency, sum string, n int64) string {
	if n == 0 {
		return "0"
	}
	q := new(big.Rat).Quo(rat(sum), new(big.Rat).SetInt64(n))
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(minorUnits(currency))), nil)
	scaled := new(big.Rat).Mul(q, new(big.Rat).SetInt(scale))
	// Half-even rounding of scaled to an integer.
	num, den := scaled.Num(), scaled.Denom()
	quo, rem := new(big.Int).QuoRem(num, den, new(big.Int))
	twice := new(big.Int).Mul(new(big.Int).Abs(rem), big.NewInt(2))
	switch c := twice.Cmp(den); {
	case c > 0, c == 0 && quo.Bit(0) == 1:
		if num.Sign() >= 0 {
			quo.Add(quo, big.NewInt(1))
		} else {
			quo.Sub(quo, big.NewInt(1))
		}
	}
	return decimal(new(big.Rat).SetFrac(quo, scale))
}
