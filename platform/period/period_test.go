package period

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func mustParse(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return v
}

func TestJalaliConversion(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		gregorian string
		jalali    [3]int
	}{
		{"Nowruz 1399", "2020-03-20", [3]int{1399, 1, 1}},
		{"last day of leap 1399", "2021-03-20", [3]int{1399, 12, 30}},
		{"Nowruz 1400", "2021-03-21", [3]int{1400, 1, 1}},
		{"Nowruz 1402", "2023-03-21", [3]int{1402, 1, 1}},
		{"last day of common 1402", "2024-03-19", [3]int{1402, 12, 29}},
		{"Nowruz 1403", "2024-03-20", [3]int{1403, 1, 1}},
		{"last day of Shahrivar 1403", "2024-09-21", [3]int{1403, 6, 31}},
		{"Mehr 1403", "2024-09-22", [3]int{1403, 7, 1}},
		{"Dey 1403", "2024-12-21", [3]int{1403, 10, 1}},
		{"last day of leap 1403", "2025-03-20", [3]int{1403, 12, 30}},
		{"Nowruz 1404", "2025-03-21", [3]int{1404, 1, 1}},
		{"Nowruz 1405", "2026-03-21", [3]int{1405, 1, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g, _ := time.Parse(time.DateOnly, c.gregorian)
			jy, jm, jd := toJalali(g.Date())
			if got := [3]int{jy, jm, jd}; got != c.jalali {
				t.Errorf("toJalali(%s) = %v, want %v", c.gregorian, got, c.jalali)
			}
			y, m, d := fromJalali(c.jalali[0], c.jalali[1], c.jalali[2])
			if got := fmt.Sprintf("%04d-%02d-%02d", y, m, d); got != c.gregorian {
				t.Errorf("fromJalali(%v) = %s, want %s", c.jalali, got, c.gregorian)
			}
		})
	}
}

// TestJalaliMonthLengths walks every Jalali month from 1350 to 1450 as
// periods and checks their lengths: 31 days for months 1-6, 30 for 7-11 and
// 29 or 30 for Esfand, the year 366 days exactly when Esfand has 30.
func TestJalaliMonthLengths(t *testing.T) {
	t.Parallel()
	leap := map[int]bool{1370: true, 1375: true, 1379: true, 1383: true, 1387: true, 1391: true, 1395: true, 1399: true, 1403: true, 1408: true}
	for jy := 1350; jy < 1450; jy++ {
		y, m, d := fromJalali(jy, 1, 1)
		ny, nm, nd := fromJalali(jy+1, 1, 1)
		s := Spec{
			Start:       time.Date(y, m, d, 0, 0, 0, 0, time.UTC),
			End:         time.Date(ny, nm, nd, 0, 0, 0, 0, time.UTC),
			Granularity: Month, Calendar: Jalali, Location: time.UTC,
		}
		ps := s.Periods()
		if len(ps) != 12 {
			t.Fatalf("%d: %d months, want 12", jy, len(ps))
		}
		isLeap := s.End.Sub(s.Start) == 366*24*time.Hour
		for i, p := range ps {
			want := 31
			switch {
			case i == 11 && isLeap:
				want = 30
			case i == 11:
				want = 29
			case i >= 6:
				want = 30
			}
			if days := int(p.End.Sub(p.Start).Hours() / 24); days != want {
				t.Errorf("%s: %d days, want %d", p.Label, days, want)
			}
			if wantLabel := fmt.Sprintf("%04d-%02d", jy, i+1); p.Label != wantLabel {
				t.Errorf("label %s, want %s", p.Label, wantLabel)
			}
		}
		if jy >= 1370 && jy <= 1410 && isLeap != leap[jy] {
			t.Errorf("%d: leap %v, want %v", jy, isLeap, leap[jy])
		}
	}
}

func TestPeriods(t *testing.T) {
	t.Parallel()
	tehran := mustLoad(t, "Asia/Tehran")
	saoPaulo := mustLoad(t, "America/Sao_Paulo")
	cases := []struct {
		name       string
		spec       Spec
		labels     []string
		starts     []string // RFC 3339; each period ends where the next starts
		lastEnd    string
		totalLabel string
	}{
		{
			name:       "gregorian months rounded out",
			spec:       Spec{Start: mustParse(t, "2024-09-15T10:00:00Z"), End: mustParse(t, "2024-11-02T00:00:00Z"), Granularity: Month, Location: time.UTC},
			labels:     []string{"2024-09", "2024-10", "2024-11"},
			starts:     []string{"2024-09-01T00:00:00Z", "2024-10-01T00:00:00Z", "2024-11-01T00:00:00Z"},
			lastEnd:    "2024-12-01T00:00:00Z",
			totalLabel: "2024-09/2024-11",
		},
		{
			name:       "end on a boundary adds no period",
			spec:       Spec{Start: mustParse(t, "2024-09-01T00:00:00Z"), End: mustParse(t, "2024-10-01T00:00:00Z"), Granularity: Month, Location: time.UTC},
			labels:     []string{"2024-09"},
			starts:     []string{"2024-09-01T00:00:00Z"},
			lastEnd:    "2024-10-01T00:00:00Z",
			totalLabel: "2024-09",
		},
		{
			name:    "gregorian quarters",
			spec:    Spec{Start: mustParse(t, "2024-08-15T00:00:00Z"), End: mustParse(t, "2024-10-05T00:00:00Z"), Granularity: Quarter, Location: time.UTC},
			labels:  []string{"2024-Q3", "2024-Q4"},
			starts:  []string{"2024-07-01T00:00:00Z", "2024-10-01T00:00:00Z"},
			lastEnd: "2025-01-01T00:00:00Z",
		},
		{
			name:    "ISO weeks Monday to Sunday",
			spec:    Spec{Start: mustParse(t, "2024-09-18T12:00:00Z"), End: mustParse(t, "2024-09-24T00:00:00Z"), Granularity: Week, Location: time.UTC},
			labels:  []string{"2024-W38", "2024-W39"},
			starts:  []string{"2024-09-16T00:00:00Z", "2024-09-23T00:00:00Z"},
			lastEnd: "2024-09-30T00:00:00Z",
		},
		{
			name:    "ISO week belongs to the year of its Thursday",
			spec:    Spec{Start: mustParse(t, "2024-12-28T00:00:00Z"), End: mustParse(t, "2025-01-02T00:00:00Z"), Granularity: Week, Location: time.UTC},
			labels:  []string{"2024-W52", "2025-W01"},
			starts:  []string{"2024-12-23T00:00:00Z", "2024-12-30T00:00:00Z"},
			lastEnd: "2025-01-06T00:00:00Z",
		},
		{
			name:    "days at Tehran midnight",
			spec:    Spec{Start: mustParse(t, "2024-09-21T20:00:00Z"), End: mustParse(t, "2024-09-22T21:00:00Z"), Granularity: Day, Location: tehran},
			labels:  []string{"2024-09-21", "2024-09-22", "2024-09-23"},
			starts:  []string{"2024-09-21T00:00:00+03:30", "2024-09-22T00:00:00+03:30", "2024-09-23T00:00:00+03:30"},
			lastEnd: "2024-09-24T00:00:00+03:30",
		},
		{
			name:    "jalali days",
			spec:    Spec{Start: mustParse(t, "2024-09-21T20:00:00Z"), End: mustParse(t, "2024-09-22T21:00:00Z"), Granularity: Day, Calendar: Jalali, Location: tehran},
			labels:  []string{"1403-06-31", "1403-07-01", "1403-07-02"},
			starts:  []string{"2024-09-21T00:00:00+03:30", "2024-09-22T00:00:00+03:30", "2024-09-23T00:00:00+03:30"},
			lastEnd: "2024-09-24T00:00:00+03:30",
		},
		{
			name:   "jalali months split at Mehr 1 in Tehran",
			spec:   Spec{Start: mustParse(t, "2024-09-21T22:00:00+03:30"), End: mustParse(t, "2024-09-22T00:30:00+03:30"), Granularity: Month, Calendar: Jalali, Location: tehran},
			labels: []string{"1403-06", "1403-07"},
			// Shahrivar has 31 days, Mehr 30.
			starts:     []string{"2024-08-22T00:00:00+03:30", "2024-09-22T00:00:00+03:30"},
			lastEnd:    "2024-10-22T00:00:00+03:30",
			totalLabel: "1403-06/1403-07",
		},
		{
			name:    "jalali quarters across Nowruz",
			spec:    Spec{Start: mustParse(t, "2025-03-01T00:00:00+03:30"), End: mustParse(t, "2025-04-01T00:00:00+03:30"), Granularity: Quarter, Calendar: Jalali, Location: tehran},
			labels:  []string{"1403-Q4", "1404-Q1"},
			starts:  []string{"2024-12-21T00:00:00+03:30", "2025-03-21T00:00:00+03:30"},
			lastEnd: "2025-06-22T00:00:00+03:30",
		},
		{
			name:    "jalali weeks Saturday to Friday, labelled by their Saturday",
			spec:    Spec{Start: mustParse(t, "2024-09-22T10:00:00+03:30"), End: mustParse(t, "2024-09-28T10:00:00+03:30"), Granularity: Week, Calendar: Jalali, Location: tehran},
			labels:  []string{"1403-06-31", "1403-07-07"},
			starts:  []string{"2024-09-21T00:00:00+03:30", "2024-09-28T00:00:00+03:30"},
			lastEnd: "2024-10-05T00:00:00+03:30",
		},
		{
			// Brazil skipped midnight on 2018-11-04: that day starts at 01:00.
			name:    "a day whose midnight does not exist",
			spec:    Spec{Start: mustParse(t, "2018-11-03T12:00:00-03:00"), End: mustParse(t, "2018-11-04T12:00:00-02:00"), Granularity: Day, Location: saoPaulo},
			labels:  []string{"2018-11-03", "2018-11-04"},
			starts:  []string{"2018-11-03T00:00:00-03:00", "2018-11-04T01:00:00-02:00"},
			lastEnd: "2018-11-05T00:00:00-02:00",
		},
		{
			// Iran kept summer time until 2022; on 1400-01-02 clocks went
			// from 00:00 to 01:00.
			name:    "jalali days over Tehran's last spring-forward",
			spec:    Spec{Start: mustParse(t, "2021-03-21T12:00:00+03:30"), End: mustParse(t, "2021-03-22T12:00:00+04:30"), Granularity: Day, Calendar: Jalali, Location: tehran},
			labels:  []string{"1400-01-01", "1400-01-02"},
			starts:  []string{"2021-03-21T00:00:00+03:30", "2021-03-22T01:00:00+04:30"},
			lastEnd: "2021-03-23T00:00:00+04:30",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if err := c.spec.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			ps := c.spec.Periods()
			if len(ps) != len(c.labels) || c.spec.Len() != len(ps) {
				t.Fatalf("got %d periods (Len %d) %v, want %v", len(ps), c.spec.Len(), ps, c.labels)
			}
			for i, p := range ps {
				if p.Label != c.labels[i] {
					t.Errorf("period %d label %q, want %q", i, p.Label, c.labels[i])
				}
				if want := mustParse(t, c.starts[i]); !p.Start.Equal(want) {
					t.Errorf("%s starts %s, want %s", p.Label, p.Start.Format(time.RFC3339), c.starts[i])
				}
				if i > 0 && !ps[i-1].End.Equal(p.Start) {
					t.Errorf("gap between %s and %s", ps[i-1].Label, p.Label)
				}
			}
			if want := mustParse(t, c.lastEnd); !ps[len(ps)-1].End.Equal(want) {
				t.Errorf("last ends %s, want %s", ps[len(ps)-1].End.Format(time.RFC3339), c.lastEnd)
			}
			total := c.spec.Total()
			if !total.Start.Equal(ps[0].Start) || !total.End.Equal(ps[len(ps)-1].End) {
				t.Errorf("total %v does not span the periods", total)
			}
			if c.totalLabel != "" && total.Label != c.totalLabel {
				t.Errorf("total label %q, want %q", total.Label, c.totalLabel)
			}
		})
	}
}

func TestIndex(t *testing.T) {
	t.Parallel()
	tehran := mustLoad(t, "Asia/Tehran")
	jalaliMonths := Spec{Start: mustParse(t, "2024-09-01T00:00:00+03:30"), End: mustParse(t, "2024-10-01T00:00:00+03:30"), Granularity: Month, Calendar: Jalali, Location: tehran}
	gregorianWeeks := func(loc *time.Location) Spec {
		return Spec{Start: mustParse(t, "2024-09-16T00:00:00Z"), End: mustParse(t, "2024-09-30T00:00:00Z"), Granularity: Week, Location: loc}
	}
	cases := []struct {
		name  string
		spec  Spec
		at    string
		index int
	}{
		{"late Shahrivar 31 in Tehran is 1403-06", jalaliMonths, "2024-09-21T22:00:00+03:30", 0},
		{"the same instant is Mehr 1 seen from UTC", Spec{Start: jalaliMonths.Start, End: jalaliMonths.End, Granularity: Month, Calendar: Jalali, Location: time.UTC}, "2024-09-21T22:00:00+03:30", 0},
		{"just after Tehran midnight is 1403-07", jalaliMonths, "2024-09-22T00:30:00+03:30", 1},
		{"Tehran midnight itself is 1403-07", jalaliMonths, "2024-09-22T00:00:00+03:30", 1},
		{"before the first period", jalaliMonths, "2024-08-21T23:59:59+03:30", -1},
		{"at the end of the last period", jalaliMonths, "2024-10-22T00:00:00+03:30", -1},
		{"Sunday night in UTC is still ISO week 38", gregorianWeeks(time.UTC), "2024-09-22T22:00:00Z", 0},
		{"the same instant is Monday in Tehran: week 39", gregorianWeeks(tehran), "2024-09-22T22:00:00Z", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := c.spec.Index(mustParse(t, c.at)); got != c.index {
				t.Errorf("Index(%s) = %d, want %d", c.at, got, c.index)
			}
		})
	}
}

// TestIndexAgreesWithPeriods sweeps two Jalali and Gregorian years hour by
// hour: every instant falls in exactly the period Index and Locate name.
func TestIndexAgreesWithPeriods(t *testing.T) {
	t.Parallel()
	tehran := mustLoad(t, "Asia/Tehran")
	for _, cal := range []Calendar{Gregorian, Jalali} {
		for _, g := range []Granularity{Day, Week, Month, Quarter} {
			s := Spec{Start: mustParse(t, "2024-01-10T00:00:00Z"), End: mustParse(t, "2025-12-20T00:00:00Z"), Granularity: g, Calendar: cal, Location: tehran}
			t.Run(cal.String()+" "+g.String(), func(t *testing.T) {
				t.Parallel()
				ps := s.Periods()
				i := 0
				for at := ps[0].Start.Add(-time.Hour); at.Before(ps[len(ps)-1].End.Add(time.Hour)); at = at.Add(time.Hour) {
					for i < len(ps) && !at.Before(ps[i].End) {
						i++
					}
					want := i
					if i == len(ps) || at.Before(ps[i].Start) {
						want = -1
					}
					if got := s.Index(at); got != want {
						t.Fatalf("Index(%s) = %d, want %d", at.In(tehran).Format(time.RFC3339), got, want)
					}
					if got := Locate(ps, at); got != want {
						t.Fatalf("Locate(%s) = %d, want %d", at.In(tehran).Format(time.RFC3339), got, want)
					}
				}
			})
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	start := mustParse(t, "2024-01-01T00:00:00Z")
	ok := Spec{Start: start, End: start.AddDate(0, 3, 0), Granularity: Month, Location: time.UTC}
	with := func(f func(*Spec)) Spec { s := ok; f(&s); return s }
	cases := []struct {
		name  string
		spec  Spec
		field string // "" when valid
	}{
		{"valid", ok, ""},
		{"exactly five years", with(func(s *Spec) { s.End = start.AddDate(5, 0, 0) }), ""},
		{"no start", with(func(s *Spec) { s.Start = time.Time{} }), "period.start_time"},
		{"start before 1900", with(func(s *Spec) { s.Start = time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC) }), "period.start_time"},
		{"no end", with(func(s *Spec) { s.End = time.Time{} }), "period.end_time"},
		{"end equals start", with(func(s *Spec) { s.End = start }), "period.end_time"},
		{"end before start", with(func(s *Spec) { s.End = start.Add(-time.Hour) }), "period.end_time"},
		{"more than five years", with(func(s *Spec) { s.End = start.AddDate(5, 0, 0).Add(time.Nanosecond) }), "period.end_time"},
		{"no granularity", with(func(s *Spec) { s.Granularity = 0 }), "period.granularity"},
		{"unknown granularity", with(func(s *Spec) { s.Granularity = 9 }), "period.granularity"},
		{"unknown calendar", with(func(s *Spec) { s.Calendar = 7 }), "period.calendar"},
		{"no location", with(func(s *Spec) { s.Location = nil }), "period.time_zone"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := c.spec.Validate()
			if c.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want a FieldError for %s wrapping ErrInvalid", err, c.field)
			}
		})
	}
}

func TestLoadLocation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, zone, want string
		valid            bool
	}{
		{"empty is UTC", "", "UTC", true},
		{"IANA name", "Asia/Tehran", "Asia/Tehran", true},
		{"unknown", "Mars/Olympus_Mons", "", false},
		{"the server's local zone is not a request's", "Local", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			loc, err := LoadLocation(c.zone)
			if !c.valid {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != "period.time_zone" {
					t.Fatalf("LoadLocation(%q) = %v, want a period.time_zone error", c.zone, err)
				}
				return
			}
			if err != nil || loc.String() != c.want {
				t.Fatalf("LoadLocation(%q) = %v, %v; want %s", c.zone, loc, err, c.want)
			}
		})
	}
}

func TestEmptySpecHasNoPeriods(t *testing.T) {
	t.Parallel()
	s := Spec{Granularity: Day}
	if ps, n, i := s.Periods(), s.Len(), s.Index(time.Now()); ps != nil || n != 0 || i != -1 {
		t.Fatalf("zero range: Periods %v, Len %d, Index %d", ps, n, i)
	}
}
