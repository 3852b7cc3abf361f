package journey

import "strings"

// NormalizePhone brings a phone number as shops send it towards E.164, so
// one customer's number is one identity whichever system sent it. Persian
// and Arabic-Indic digits always become ASCII ones (numbers in them were
// refused before, so no stored identity changes). The rest only with
// countryCode (such as "98"), a tenant's explicit choice because it
// changes how its customers' numbers are keyed: spaces, dashes, dots,
// brackets and direction marks go, a "(0)" after the country code goes,
// "00<countryCode>" becomes "+<countryCode>", and a national number's
// trunk "0" becomes "+<countryCode>" (09121234567 → +989121234567). Anything
// else is left for validation to judge.
func NormalizePhone(p, countryCode string) string {
	var b strings.Builder
	for _, r := range p {
		switch {
		case r >= '۰' && r <= '۹': // Persian
			b.WriteRune('0' + (r - '۰'))
		case r >= '٠' && r <= '٩': // Arabic-Indic
			b.WriteRune('0' + (r - '٠'))
		default:
			b.WriteRune(r)
		}
	}
	n := b.String()
	if countryCode == "" {
		return n
	}
	n = strings.ReplaceAll(n, "(0)", "")
	n = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '-', '.', '(', ')', '\u00a0', '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e':
			return -1
		}
		return r
	}, n)
	switch {
	case strings.HasPrefix(n, "00"+countryCode):
		return "+" + n[2:]
	case strings.HasPrefix(n, "0") && !strings.HasPrefix(n, "00") && len(n) > 1:
		return "+" + countryCode + n[1:]
	}
	return n
}
