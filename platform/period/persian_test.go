package period_test

import (
	"testing"

	"github.com/bazgasht/bazgasht/platform/period"
)

func TestPersianLabel(t *testing.T) {
	tests := []struct {
		label  string
		jalali bool
		want   string
	}{
		{"1403-07", true, "مهر ۱۴۰۳"},
		{"1403-12", true, "اسفند ۱۴۰۳"},
		{"1403-07-01", true, "۱ مهر ۱۴۰۳"},
		{"1403-Q3", true, "فصل ۳ ۱۴۰۳"},
		{"1403-07/1403-09", true, "مهر ۱۴۰۳ تا آذر ۱۴۰۳"},
		{"2024-W08", false, "هفتهٔ ۸ ۲۰۲۴"},
		{"2024-09", false, "۲۰۲۴-۰۹"},
		{"2024-09-22", false, "۲۰۲۴-۰۹-۲۲"},
	}
	for _, tc := range tests {
		if got := period.PersianLabel(tc.label, tc.jalali); got != tc.want {
			t.Errorf("PersianLabel(%q, %v) = %q, want %q", tc.label, tc.jalali, got, tc.want)
		}
	}
}
