package rule

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Day is 24 hours: rules count days of the calendar as people say them ("7
// days after delivery"), not daylight-saving-aware local days.
const Day = 24 * time.Hour

// errDurationSyntax is why a duration did not parse; the text is for people
// writing rule files.
var errDurationSyntax = errors.New(`want a duration such as "7d", "168h", "30m" or "1h30m"`)

// ParseDuration reads a Go duration ("168h", "30m", "1h30m") or a whole
// number of days ("7d", "90d").
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		// Only a whole number of days, optionally signed: "1d12h" is
		// written "36h", so that there is one way to read it.
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, errDurationSyntax)
		}
		if n > math.MaxInt64/int64(Day) || n < math.MinInt64/int64(Day) {
			return 0, fmt.Errorf("duration %q: too long", s)
		}
		return Duration(time.Duration(n) * Day), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: %w", s, errDurationSyntax)
	}
	return Duration(d), nil
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String is the shortest exact form: "7d" for a whole number of days, else
// Go's form without zero tails ("1h30m", not "1h30m0s"). ParseDuration reads
// it back to the same value.
func (d Duration) String() string {
	std := time.Duration(d)
	if std != 0 && std%Day == 0 {
		return strconv.FormatInt(int64(std/Day), 10) + "d"
	}
	s := std.String()
	// "1h0m0s" -> "1h", "1h30m0s" -> "1h30m", "5m0s" -> "5m". Only whole
	// zero units go: "10s", "1.5s" and "0s" stay as they are.
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalText writes d as String does. YAML (gopkg.in/yaml.v3) and JSON
// map keys use it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads d as ParseDuration does. YAML (gopkg.in/yaml.v3) uses
// it for scalars, so `delay: 7d` and `delay: 168h` both load.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := ParseDuration(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes d as a JSON string in String's form.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a JSON string as ParseDuration does. A bare number is
// refused rather than guessed at (nanoseconds? seconds? days?).
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration %s: %w", b, errDurationSyntax)
	}
	return d.UnmarshalText([]byte(s))
}
