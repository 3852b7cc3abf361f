package period

import (
	"strconv"
	"strings"
)

// persianDigits writes ASCII digits as Persian ones.
var persianDigits = strings.NewReplacer("0", "۰", "1", "۱", "2", "۲", "3", "۳", "4", "۴", "5", "۵", "6", "۶", "7", "۷", "8", "۸", "9", "۹")

// PersianDigits writes s's ASCII digits as Persian ones.
func PersianDigits(s string) string { return persianDigits.Replace(s) }

// jalaliMonths are the Jalali months' names, Farvardin first.
var jalaliMonths = [12]string{"فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور", "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند"}

// PersianLabel writes a period label, as Bounds.Label gives it, for
// Persian readers: Persian digits, and in the Jalali calendar the month by
// name ("1403-07" → "مهر ۱۴۰۳", "1403-07-01" → "۱ مهر ۱۴۰۳"); quarters as
// "فصل ۳ ۱۴۰۳", weeks as "هفتهٔ ۳۸ ۲۰۲۴", a range "a/b" as "a تا b".
func PersianLabel(label string, jalali bool) string {
	if first, last, ok := strings.Cut(label, "/"); ok {
		return PersianLabel(first, jalali) + " تا " + PersianLabel(last, jalali)
	}
	parts := strings.Split(label, "-")
	switch {
	case len(parts) == 2 && strings.HasPrefix(parts[1], "Q"):
		return PersianDigits("فصل " + strings.TrimPrefix(parts[1], "Q") + " " + parts[0])
	case len(parts) == 2 && strings.HasPrefix(parts[1], "W"):
		return PersianDigits("هفتهٔ " + strings.TrimPrefix(strings.TrimPrefix(parts[1], "W"), "0") + " " + parts[0])
	case jalali && len(parts) == 2:
		if m, err := strconv.Atoi(parts[1]); err == nil && m >= 1 && m <= 12 {
			return jalaliMonths[m-1] + " " + PersianDigits(parts[0])
		}
	case jalali && len(parts) == 3:
		m, err1 := strconv.Atoi(parts[1])
		d, err2 := strconv.Atoi(parts[2])
		if err1 == nil && err2 == nil && m >= 1 && m <= 12 {
			return PersianDigits(strconv.Itoa(d)) + " " + jalaliMonths[m-1] + " " + PersianDigits(parts[0])
		}
	}
	return PersianDigits(label)
}
