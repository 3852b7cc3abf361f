package journey

import "strings"

// NormalizePhone brings a phone number as shops send it towards E.164, so
// one customer's number is one identity whichever system sent it: Persian
// and Arabic-Indic digits become ASCII ones, spaces, dashes, dots and
// brackets go, a leading "00" becomes "+", and — when countryCode (such as
// "98") is given — a national number's trunk "0" becomes "+<countryCode>"
// (09121234567 → +989121234567). Anything else is left as it is, for
// validation to judge.
func NormalizePhone(p, countryCode string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(p) {
		switch {
		case r >= '۰' && r <= '۹': // Persian
			b.WriteRune('0' + (r - '۰'))
		case r >= '٠' && r <= '٩': // Arabic-Indic
			b.WriteRune('0' + (r - '٠'))
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '\u00a0':
		default:
			b.WriteRune(r)
		}
	}
	n := b.String()
	switch {
	case strings.HasPrefix(n, "00"):
		return "+" + n[2:]
	case countryCode != "" && strings.HasPrefix(n, "0") && len(n) > 1:
		return "+" + countryCode + n[1:]
	}
	return n
}
