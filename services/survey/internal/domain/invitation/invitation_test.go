package invitation

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/services/survey/internal/domain/comment"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/survey"
)

func ptr[T any](v T) *T { return &v }

func TestIDIsStablePerTouchpoint(t *testing.T) {
	t.Parallel()
	a := ID("demo", "nps", Customer{CustomerID: "c1"}.Key(), "order:1")
	if a != ID("demo", "nps", "c:c1", "order:1") || len(a) != 24 {
		t.Fatalf("id %q is not stable", a)
	}
	for _, other := range []string{ID("shop2", "nps", "c:c1", "order:1"), ID("demo", "csat-delivery", "c:c1", "order:1"), ID("demo", "nps", "c:c2", "order:1"), ID("demo", "nps", "c:c1", "order:2")} {
		if other == a {
			t.Fatal("a different tenant, survey, customer or touchpoint must make another invitation")
		}
	}
	if (Customer{Email: " Sara@Example.com"}).Key() != "e:sara@example.com" {
		t.Fatal("emails must be keyed lower-cased")
	}
}

func TestFatigue(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	month := 30 * 24 * time.Hour
	if Fatigued(time.Time{}, now, month) || !Fatigued(now.Add(-29*24*time.Hour), now, month) || Fatigued(now.Add(-month), now, month) || Fatigued(now.Add(-time.Hour), now, 0) {
		t.Fatal("fatigue window is wrong")
	}
}

func TestRespondFirstCompleteChangeOnce(t *testing.T) {
	t.Parallel()
	def, _ := survey.Default("nps")
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	inv := &Invitation{ID: "i1", Status: Sent}
	step := func(s Submission, want Outcome, wantErr error) {
		t.Helper()
		got, err := inv.Respond(def, s, []string{"vip"}, now)
		if !errors.Is(err, wantErr) || got != want {
			t.Fatalf("Respond = %v, %v; want %v, %v", got, err, want, wantErr)
		}
	}
	step(Submission{Comment: ptr("x")}, Unchanged, ErrNoScore)
	step(Submission{Score: ptr(11)}, Unchanged, survey.ErrInvalid)
	step(Submission{Score: ptr(3)}, First, nil)
	step(Submission{Score: ptr(3)}, Unchanged, nil) // a second tap on the same score
	if inv.Status != Responded || inv.Answer.Revision != 1 || inv.EventID() != "i1:answer:1" {
		t.Fatalf("after the first answer: %+v", inv.Answer)
	}
	step(Submission{Score: ptr(3), Comment: ptr(strings.Repeat("ب", MaxComment+1))}, Unchanged, survey.ErrInvalid)
	step(Submission{Score: ptr(3), Comment: ptr("  delivery was late, terrible  ")}, Completed, nil)
	if inv.Answer.Comment != "delivery was late, terrible" || inv.Answer.Sentiment != comment.Negative || inv.Answer.Topics[0] != "delivery" {
		t.Fatalf("comment not analysed: %+v", inv.Answer)
	}
	step(Submission{Score: ptr(9)}, Changed, nil)
	if inv.Answer.Score != 9 || inv.Answer.Revision != 3 || !inv.Answer.RespondedAt.Equal(now) {
		t.Fatalf("after the change: %+v", inv.Answer)
	}
	step(Submission{Score: ptr(10)}, Unchanged, ErrUsed)
	step(Submission{Score: ptr(9)}, Unchanged, nil)
	sup := &Invitation{Status: Suppressed}
	if _, err := sup.Respond(def, Submission{Score: ptr(9)}, nil, now); !errors.Is(err, ErrNotAnswerable) {
		t.Fatal("a suppressed invitation must not take answers")
	}
}

// A one-tap score settles before it counts: a scanner tapping every score
// at once records nothing (and its later taps are ignored for a while), a
// person's tap counts once settled, and a person going on in the form
// makes the tap theirs at once.
func TestOneTapScoresSettle(t *testing.T) {
	t.Parallel()
	def, _ := survey.Default("nps")
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	const settle = 10 * time.Second
	tap := func(inv *Invitation, score int, at time.Time) (Outcome, error) {
		return inv.Respond(def, Submission{Score: ptr(score), Tap: true, Settle: settle}, nil, at)
	}

	scanned := &Invitation{Status: Sent}
	if out, err := tap(scanned, 0, now); err != nil || out != First || scanned.Answer.Settled(now) {
		t.Fatalf("first tap = %v, %v; settled %v", out, err, scanned.Answer.Settled(now))
	}
	if out, err := tap(scanned, 1, now.Add(200*time.Millisecond)); !errors.Is(err, ErrScanned) || out != Withdrawn || scanned.Answer != nil || scanned.Status != Sent {
		t.Fatalf("second score tapped at once = %v, %v; answer %v", out, err, scanned.Answer)
	}
	for s := 2; s <= 10; s++ {
		if _, err := tap(scanned, s, now.Add(time.Duration(s)*100*time.Millisecond)); !errors.Is(err, ErrScanned) || scanned.Answer != nil {
			t.Fatalf("scanner's tap on %d = %v; answer %v", s, err, scanned.Answer)
		}
	}
	// The person, in the form, during the scanner's window: recorded.
	if out, err := scanned.Respond(def, Submission{Score: ptr(9)}, nil, now.Add(2*time.Second)); err != nil || out != First || !scanned.Answer.Settled(now) {
		t.Fatalf("form answer after a scan = %v, %v", out, err)
	}

	person := &Invitation{Status: Sent}
	if _, err := tap(person, 9, now); err != nil {
		t.Fatal(err)
	}
	if out, err := tap(person, 9, now.Add(time.Second)); err != nil || out != Unchanged {
		t.Fatalf("the same tap again = %v, %v", out, err)
	}
	if !person.Answer.Settled(now.Add(settle)) || person.Answer.Changed {
		t.Fatalf("a lone tap did not settle: %+v", person.Answer)
	}
	// Settled, another score is the person's one change.
	if out, err := tap(person, 7, now.Add(time.Minute)); err != nil || out != Changed {
		t.Fatalf("a change after settling = %v, %v", out, err)
	}

	commented := &Invitation{Status: Sent}
	if _, err := tap(commented, 3, now); err != nil {
		t.Fatal(err)
	}
	if out, err := commented.Respond(def, Submission{Comment: ptr("late delivery")}, nil, now.Add(3*time.Second)); err != nil || out != First ||
		!commented.Answer.Settled(now.Add(3*time.Second)) || commented.Answer.Revision != 1 || commented.Answer.Changed {
		t.Fatalf("the comment while the tap settles = %v, %v: %+v", out, err, commented.Answer)
	}
}
