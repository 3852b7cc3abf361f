package notification_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
)

func TestChoose(t *testing.T) {
	t.Parallel()
	all := []notification.Channel{notification.Email, notification.SMS, notification.Push, notification.Webhook}
	both := map[notification.Channel]bool{notification.Email: true, notification.SMS: true}
	prof := func(pref notification.Channel, consents map[notification.Channel]bool) *notification.Profile {
		return &notification.Profile{Key: "k", Emails: []string{"a@example.com"}, Phones: []string{"+98912"}, Preferred: pref, Consents: consents}
	}
	cases := []struct {
		name       string
		in         notification.ChoiceInput
		want       string
		wantReason string
	}{
		{"preferred first, then the rest", notification.ChoiceInput{Profile: prof(notification.SMS, both), Category: notification.Marketing, Available: all}, "sms,email", ""},
		{"no preference: email first", notification.ChoiceInput{Profile: prof("", both), Category: notification.Marketing, Available: all}, "email,sms", ""},
		{"fallback off keeps one", notification.ChoiceInput{Profile: prof(notification.SMS, both), Category: notification.Marketing, Available: all, DisableFallback: true}, "sms", ""},
		{"requested without consent is not swapped", notification.ChoiceInput{Requested: notification.SMS, Profile: prof("", map[notification.Channel]bool{notification.Email: true}), Category: notification.Marketing, Available: all}, "", "no_consent"},
		{"transactional needs no consent", notification.ChoiceInput{Requested: notification.SMS, Profile: prof("", nil), Category: notification.Transactional, Available: all}, "sms,email,push,webhook", ""},
		{"unsubscribed channel skipped", notification.ChoiceInput{Profile: prof(notification.Email, both), Category: notification.Marketing, Available: all,
			Unsubscribed: func(c notification.Channel) bool { return c == notification.Email }}, "sms", ""},
		{"unsubscribed requested channel", notification.ChoiceInput{Requested: notification.Email, Profile: prof("", both), Category: notification.Transactional, Available: all,
			Unsubscribed: func(c notification.Channel) bool { return c == notification.Email }}, "", "unsubscribed"},
		{"template without the channel", notification.ChoiceInput{Requested: notification.Push, Profile: prof("", both), Category: notification.Transactional, Available: []notification.Channel{notification.Email}}, "", "no_template_content"},
		{"no contact", notification.ChoiceInput{Requested: notification.SMS, Profile: &notification.Profile{Key: "k"}, Category: notification.Transactional, Available: all}, "", "no_contact"},
		{"a phone on the request is enough", notification.ChoiceInput{Requested: notification.SMS, Profile: &notification.Profile{Key: "k"}, Customer: notification.Customer{Phone: "+98912"}, Category: notification.Transactional, Available: all}, "sms,push,webhook", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := notification.Choose(tc.in)
			var names []string
			for _, c := range got.Channels {
				names = append(names, string(c))
			}
			if strings.Join(names, ",") != tc.want || got.Reason != tc.wantReason {
				t.Fatalf("Choose = %v %q, want %s %q", names, got.Reason, tc.want, tc.wantReason)
			}
		})
	}
}

func TestQuietHours(t *testing.T) {
	t.Parallel()
	q, err := notification.ParseQuietHours("22:00-08:00")
	if err != nil {
		t.Fatal(err)
	}
	teh, _ := time.LoadLocation("Asia/Tehran")
	ny, _ := time.LoadLocation("America/New_York")
	cases := []struct {
		name  string
		now   time.Time
		loc   *time.Location
		until time.Time
	}{
		{"noon", time.Date(2026, 6, 1, 12, 0, 0, 0, teh), teh, time.Time{}},
		{"21:59", time.Date(2026, 6, 1, 21, 59, 0, 0, teh), teh, time.Time{}},
		{"22:00", time.Date(2026, 6, 1, 22, 0, 0, 0, teh), teh, time.Date(2026, 6, 2, 8, 0, 0, 0, teh)},
		{"03:00", time.Date(2026, 6, 2, 3, 0, 0, 0, teh), teh, time.Date(2026, 6, 2, 8, 0, 0, 0, teh)},
		{"08:00 is over", time.Date(2026, 6, 2, 8, 0, 0, 0, teh), teh, time.Time{}},
		{"the customer's zone, not UTC", time.Date(2026, 6, 1, 23, 0, 0, 0, time.UTC), ny, time.Time{}},
		{"New York night across the DST change", time.Date(2026, 3, 7, 23, 0, 0, 0, ny), ny, time.Date(2026, 3, 8, 8, 0, 0, 0, ny)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			until, held := q.HeldUntil(tc.now, tc.loc)
			if held != !tc.until.IsZero() || !until.Equal(tc.until) {
				t.Fatalf("HeldUntil(%v) = %v %v, want %v", tc.now, until, held, tc.until)
			}
		})
	}
	day, _ := notification.ParseQuietHours("13:00-15:00")
	if _, held := day.HeldUntil(time.Date(2026, 6, 1, 14, 0, 0, 0, teh), teh); !held {
		t.Error("13:00-15:00 does not hold at 14:00")
	}
	for _, bad := range []string{"22-08", "25:00-08:00", "ten to six"} {
		if _, err := notification.ParseQuietHours(bad); err == nil {
			t.Errorf("ParseQuietHours(%q) accepted", bad)
		}
	}
	if off, _ := notification.ParseQuietHours("off"); !off.Off() {
		t.Error("off is not off")
	}
}

func TestFrequencyCap(t *testing.T) {
	t.Parallel()
	fc, err := notification.ParseFrequencyCap("3/168h")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	var e []notification.CapEntry
	var ok bool
	for i, id := range []string{"a", "b", "c"} {
		if e, ok = fc.Reserve(e, id, now.Add(time.Duration(i)*time.Hour)); !ok {
			t.Fatalf("%s capped", id)
		}
	}
	if _, ok = fc.Reserve(e, "d", now.Add(4*time.Hour)); ok {
		t.Fatal("the fourth in a week was allowed")
	}
	if e2, ok := fc.Reserve(e, "b", now.Add(5*time.Hour)); !ok || len(e2) != 3 {
		t.Fatal("a retried message was capped by itself or counted twice")
	}
	if _, ok = fc.Reserve(e, "d", now.Add(169*time.Hour)); !ok {
		t.Fatal("a week later is still capped")
	}
	if e, ok = fc.Reserve(notification.Release(e, "b"), "d", now.Add(5*time.Hour)); !ok || len(e) != 3 {
		t.Fatal("a released place was not reusable")
	}
	for _, bad := range []string{"3", "0/1h", "x/1h", "3/soon"} {
		if _, err := notification.ParseFrequencyCap(bad); err == nil {
			t.Errorf("ParseFrequencyCap(%q) accepted", bad)
		}
	}
}

func TestBackoffGrowsWithJitterUpToTheCap(t *testing.T) {
	t.Parallel()
	base, maxd := 100*time.Millisecond, time.Second
	for n := 1; n <= 8; n++ {
		full := min(base<<(n-1), maxd)
		seen := map[time.Duration]bool{}
		for range 200 {
			d := notification.Backoff(base, maxd, n)
			if d < full/2 || d > full {
				t.Fatalf("Backoff(%d) = %v, want within [%v, %v]", n, d, full/2, full)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Fatalf("Backoff(%d) took only %d values: no jitter", n, len(seen))
		}
	}
}

func TestRequestValidate(t *testing.T) {
	t.Parallel()
	ok := notification.Request{Tenant: "t", ID: "survey:inv-1", Customer: notification.Customer{Email: "a@b"}, TemplateID: "x"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	long := ok
	long.ID = strings.Repeat("x", 129)
	if err := long.Validate(); err == nil || !strings.HasPrefix(err.Error(), "notification_id") {
		t.Fatalf("129-character id: %v", err)
	}
}
