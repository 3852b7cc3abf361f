package period

import (
	"time"

	ptime "github.com/yaa110/go-persian-calendar"
)

// The library converts dates, not instants: ptime.New reads the wall-clock
// date of the time.Time it is given, in that value's own zone, and
// ptime.Time.In relabels the zone without moving the clock. So only civil
// dates cross this boundary, pinned to noon UTC where no zone can shift
// them, and local midnight is built on our side.

// toJalali converts the Gregorian date y-m-d to the Jalali date.
func toJalali(y int, m time.Month, d int) (jy, jm, jd int) {
	pt := ptime.New(time.Date(y, m, d, 12, 0, 0, 0, time.UTC))
	jy, pm, jd := pt.Date()
	return jy, int(pm), jd
}

// fromJalali converts the Jalali date jy-jm-jd to the Gregorian date. jd
// must exist in that month: the library clamps or carries days past a
// month's end.
func fromJalali(jy, jm, jd int) (int, time.Month, int) {
	return ptime.Date(jy, ptime.Month(jm), jd, 12, 0, 0, 0, time.UTC).Time().Date()
}
