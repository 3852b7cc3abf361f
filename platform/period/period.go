// Package period cuts a reporting range into days, weeks, months or
// quarters of the Gregorian or the Jalali (Solar Hijri) calendar, with day
// boundaries at local midnight in a time zone. It is pure: the gRPC port
// converts cx.report.v1.Period into a Spec and Bounds back into PeriodBounds.
package period

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Granularity is the length of one reporting period.
type Granularity int

// Granularities. The zero value is not one: a Spec must choose.
const (
	// Day is a calendar day, from local midnight to local midnight.
	Day Granularity = iota + 1
	// Week is Monday to Sunday (ISO 8601) in the Gregorian calendar and
	// Saturday to Friday in the Jalali.
	Week
	// Month is a calendar month of the Spec's calendar.
	Month
	// Quarter is three calendar months of the Spec's calendar, the first
	// starting with the year.
	Quarter
)

// String returns "day", "week", "month" or "quarter".
func (g Granularity) String() string {
	switch g {
	case Day:
		return "day"
	case Week:
		return "week"
	case Month:
		return "month"
	case Quarter:
		return "quarter"
	}
	return fmt.Sprintf("Granularity(%d)", int(g))
}

func (g Granularity) valid() bool { return g >= Day && g <= Quarter }

// Calendar sets where weeks, months and quarters begin and how periods are
// labelled. Days are the same in both.
type Calendar int

// Calendars. The zero value is the Gregorian calendar.
const (
	// Gregorian is the Gregorian calendar with ISO 8601 weeks.
	Gregorian Calendar = iota
	// Jalali is the Solar Hijri calendar used in Iran with the "fa" locale:
	// the year begins at Nowruz, months 1-6 have 31 days, 7-11 have 30 and
	// Esfand 29, or 30 in a leap year.
	Jalali
)

// String returns "gregorian" or "jalali".
func (c Calendar) String() string {
	switch c {
	case Gregorian:
		return "gregorian"
	case Jalali:
		return "jalali"
	}
	return fmt.Sprintf("Calendar(%d)", int(c))
}

// MaxYears is how long a range may be: its end is at most this many years
// after its start.
const MaxYears = 5

// earliest is the first start a Spec accepts. The Jalali conversion is not
// meant for dates centuries back, and no shop has orders from before it.
var earliest = time.Date(1900, time.January, 1, 0, 0, 0, 0, time.UTC)

// ErrInvalid is wrapped by every error Validate and LoadLocation return, so
// a port can map them to InvalidArgument with errors.Is.
var ErrInvalid = errors.New("invalid period")

// FieldError names the request field that makes a period invalid, such as
// "period.end_time".
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// LoadLocation returns the time zone of an IANA name such as "Asia/Tehran",
// and UTC for "", as cx.report.v1.Period.time_zone means it. An unknown
// name is a *FieldError for "period.time_zone".
func LoadLocation(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	// "Local" would be the server's zone, which a request cannot mean.
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, &FieldError{Field: "period.time_zone", Reason: fmt.Sprintf("unknown time zone %q", name)}
	}
	return loc, nil
}

// Spec is a reporting range and how it is cut into periods.
type Spec struct {
	// Start of the range; rounded down to the start of its period.
	Start time.Time
	// End of the range, exclusive; rounded up to the end of its period.
	End time.Time
	// Granularity is the length of one period.
	Granularity Granularity
	// Calendar chooses where weeks, months and quarters begin.
	Calendar Calendar
	// Location is the time zone whose midnight starts a day. Required:
	// LoadLocation turns the request's zone name, or "", into one.
	Location *time.Location
}

// Bounds is one period: [Start, End) and its label.
type Bounds struct {
	// Start is the first instant of the period: local midnight.
	Start time.Time
	// End is the first instant after the period.
	End time.Time
	// Label names the period in its calendar with Latin digits: "2024-09-22"
	// (day), "2024-W38" (ISO week), "2024-09", "2024-Q3"; in the Jalali
	// calendar "1403-07-01", "1403-06-31" for a week (its Saturday),
	// "1403-07", "1403-Q3".
	Label string
}

// Contains reports whether t falls in [b.Start, b.End).
func (b Bounds) Contains(t time.Time) bool {
	return !t.Before(b.Start) && t.Before(b.End)
}

// Validate checks the Spec as a request would give it; the error is a
// *FieldError naming the request field.
func (s Spec) Validate() error {
	switch {
	case s.Start.IsZero():
		return &FieldError{Field: "period.start_time", Reason: "required"}
	case s.Start.Before(earliest):
		return &FieldError{Field: "period.start_time", Reason: "before 1900-01-01"}
	case s.End.IsZero():
		return &FieldError{Field: "period.end_time", Reason: "required"}
	case !s.End.After(s.Start):
		return &FieldError{Field: "period.end_time", Reason: "must be after period.start_time"}
	case s.End.After(s.Start.AddDate(MaxYears, 0, 0)):
		return &FieldError{Field: "period.end_time", Reason: fmt.Sprintf("at most %d years after period.start_time", MaxYears)}
	case !s.Granularity.valid():
		return &FieldError{Field: "period.granularity", Reason: "must be day, week, month or quarter"}
	case s.Calendar != Gregorian && s.Calendar != Jalali:
		return &FieldError{Field: "period.calendar", Reason: "must be gregorian or jalali"}
	case s.Location == nil:
		return &FieldError{Field: "period.time_zone", Reason: "required"}
	}
	return nil
}

// Periods returns the periods of the range, oldest first: from the one
// holding Start to the one holding the last instant before End. It returns
// nil for an empty range or an unknown granularity; call Validate first.
func (s Spec) Periods() []Bounds {
	first, last, ok := s.span()
	if !ok {
		return nil
	}
	out := make([]Bounds, 0, last-first+1)
	start := s.startOf(first)
	for o := first; o <= last; o++ {
		end := s.startOf(o + 1)
		out = append(out, Bounds{Start: start, End: end, Label: s.label(o)})
		start = end
	}
	return out
}

// Len is len(s.Periods()), without building them.
func (s Spec) Len() int {
	first, last, ok := s.span()
	if !ok {
		return 0
	}
	return int(last - first + 1)
}

// Index returns the position in Periods of the period t falls in, or -1
// when t is outside them. It converts calendars on every call (under a
// microsecond); to place many instants, Locate them in Periods instead.
func (s Spec) Index(t time.Time) int {
	first, last, ok := s.span()
	if !ok {
		return -1
	}
	o := s.ordinal(t)
	if o < first || o > last {
		return -1
	}
	return int(o - first)
}

// Locate returns the position of the period t falls in among ps, which
// must be contiguous and oldest first as Periods returns them, or -1 when t
// is outside them. It agrees with Spec.Index by a binary search.
func Locate(ps []Bounds, t time.Time) int {
	i, _ := slices.BinarySearchFunc(ps, t, func(b Bounds, t time.Time) int {
		if t.Before(b.End) {
			return 1
		}
		return -1
	})
	if i == len(ps) || t.Before(ps[i].Start) {
		return -1
	}
	return i
}

// Total is the whole range as one period: from the start of the first
// period to the end of the last, labelled "first/last" (ISO 8601 interval
// style, such as "1403-07/1403-09"), or with the one label when the range
// is a single period.
func (s Spec) Total() Bounds {
	first, last, ok := s.span()
	if !ok {
		return Bounds{}
	}
	label := s.label(first)
	if last != first {
		label += "/" + s.label(last)
	}
	return Bounds{Start: s.startOf(first), End: s.startOf(last + 1), Label: label}
}

// span is the ordinals of the first and last period.
func (s Spec) span() (first, last int64, ok bool) {
	if !s.Granularity.valid() || !s.End.After(s.Start) {
		return 0, 0, false
	}
	return s.ordinal(s.Start), s.ordinal(s.End.Add(-time.Nanosecond)), true
}

func (s Spec) loc() *time.Location {
	if s.Location == nil {
		return time.UTC
	}
	return s.Location
}

// ordinal numbers the period holding t: consecutive periods have
// consecutive ordinals.
func (s Spec) ordinal(t time.Time) int64 {
	y, m, d := t.In(s.loc()).Date()
	day := dayNumber(y, m, d)
	switch s.Granularity {
	case Day:
		return day
	case Week:
		return floorDiv(day+s.weekShift(), 7)
	case Month:
		return s.monthOrdinal(day)
	case Quarter:
		return floorDiv(s.monthOrdinal(day), 3)
	}
	return 0
}

// weekShift aligns weeks: day 0, 1970-01-01, was a Thursday, three days
// after a Monday and five after a Saturday.
func (s Spec) weekShift() int64 {
	if s.Calendar == Jalali {
		return 5
	}
	return 3
}

// monthOrdinal numbers the month of the calendar holding day: year*12 +
// month - 1.
func (s Spec) monthOrdinal(day int64) int64 {
	y, m, d := civil(day)
	if s.Calendar == Jalali {
		jy, jm, _ := toJalali(y, m, d)
		return int64(jy)*12 + int64(jm) - 1
	}
	return int64(y)*12 + int64(m) - 1
}

// firstDay is the day number of the first day of period o.
func (s Spec) firstDay(o int64) int64 {
	switch s.Granularity {
	case Week:
		return o*7 - s.weekShift()
	case Month:
		return s.monthStart(o)
	case Quarter:
		return s.monthStart(o * 3)
	}
	return o
}

// monthStart is the day number of the first day of month ordinal mo.
func (s Spec) monthStart(mo int64) int64 {
	y, m := int(floorDiv(mo, 12)), int(mo-floorDiv(mo, 12)*12)+1
	if s.Calendar == Jalali {
		gy, gm, gd := fromJalali(y, m, 1)
		return dayNumber(gy, gm, gd)
	}
	return dayNumber(y, time.Month(m), 1)
}

// startOf is the first instant of period o: local midnight of its first
// day.
func (s Spec) startOf(o int64) time.Time {
	y, m, d := civil(s.firstDay(o))
	return midnight(y, m, d, s.loc())
}

func (s Spec) label(o int64) string {
	switch s.Granularity {
	case Month, Quarter:
		mo := o
		if s.Granularity == Quarter {
			mo = o * 3
		}
		y, m := floorDiv(mo, 12), mo-floorDiv(mo, 12)*12+1
		if s.Granularity == Quarter {
			return fmt.Sprintf("%04d-Q%d", y, (m-1)/3+1)
		}
		return fmt.Sprintf("%04d-%02d", y, m)
	}
	y, m, d := civil(s.firstDay(o))
	if s.Calendar == Jalali {
		jy, jm, jd := toJalali(y, m, d)
		return fmt.Sprintf("%04d-%02d-%02d", jy, jm, jd)
	}
	if s.Granularity == Week {
		wy, w := time.Date(y, m, d, 12, 0, 0, 0, time.UTC).ISOWeek()
		return fmt.Sprintf("%04d-W%02d", wy, w)
	}
	return fmt.Sprintf("%04d-%02d-%02d", y, int(m), d)
}

// midnight is the first instant of the local day y-m-d. Where a clock
// change skips midnight (Sao Paulo until 2019, Havana), time.Date may answer
// with 23:00 of the day before; the day then begins when the zone changes.
func midnight(y int, m time.Month, d int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	if t.Day() != d {
		if _, end := t.ZoneBounds(); !end.IsZero() {
			t = end
		}
	}
	return t
}

// dayNumber counts days from 1970-01-01 to the civil date y-m-d.
func dayNumber(y int, m time.Month, d int) int64 {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// civil is the civil date of a day number.
func civil(day int64) (int, time.Month, int) {
	return time.Unix(day*86400, 0).UTC().Date()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
