package notification

import (
	"fmt"
	"time"
)

// QuietHours is the daily window, in the customer's own time zone, when
// marketing is held. Start after End wraps midnight (22:00–08:00).
type QuietHours struct {
	Start, End time.Duration // since local midnight
}

// ParseQuietHours reads "HH:MM-HH:MM"; "" or "off" means none.
func ParseQuietHours(s string) (QuietHours, error) {
	if s == "" || s == "off" {
		return QuietHours{}, nil
	}
	var h1, m1, h2, m2 int
	if _, err := fmt.Sscanf(s, "%d:%d-%d:%d", &h1, &m1, &h2, &m2); err != nil ||
		h1 < 0 || h1 > 23 || h2 < 0 || h2 > 23 || m1 < 0 || m1 > 59 || m2 < 0 || m2 > 59 {
		return QuietHours{}, fmt.Errorf("quiet hours %q are not HH:MM-HH:MM such as 22:00-08:00", s)
	}
	return QuietHours{Start: time.Duration(h1)*time.Hour + time.Duration(m1)*time.Minute,
		End: time.Duration(h2)*time.Hour + time.Duration(m2)*time.Minute}, nil
}

// Off reports whether there are no quiet hours.
func (q QuietHours) Off() bool { return q.Start == q.End }

// HeldUntil returns when the window around now ends in loc, and whether now
// is inside it at all.
func (q QuietHours) HeldUntil(now time.Time, loc *time.Location) (time.Time, bool) {
	if q.Off() {
		return time.Time{}, false
	}
	local := now.In(loc)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	// wall-clock time of day, robust to DST days being 23 or 25 hours
	at := time.Duration(local.Hour())*time.Hour + time.Duration(local.Minute())*time.Minute + time.Duration(local.Second())*time.Second + time.Duration(local.Nanosecond())
	endOn := func(day time.Time) time.Time {
		return time.Date(day.Year(), day.Month(), day.Day(), int(q.End/time.Hour), int(q.End%time.Hour/time.Minute), 0, 0, loc)
	}
	if q.Start < q.End { // same-day window such as 13:00-15:00
		if at >= q.Start && at < q.End {
			return endOn(midnight), true
		}
		return time.Time{}, false
	}
	switch {
	case at >= q.Start: // late evening: ends tomorrow morning
		return endOn(midnight.AddDate(0, 0, 1)), true
	case at < q.End: // small hours: ends this morning
		return endOn(midnight), true
	}
	return time.Time{}, false
}
