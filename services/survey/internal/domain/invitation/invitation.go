// Package invitation holds invitations and their answers: how an
// invitation is identified, when fatigue control holds one back, and how
// an answer is recorded, completed with a comment and changed once.
package invitation

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bazgasht/bazgasht/services/survey/internal/domain/comment"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/survey"
)

// Status is where an invitation is in its life.
type Status int

// Statuses, as cx.survey.v1.InvitationStatus numbers them.
const (
	// Pending: accepted, the notification not yet handed over.
	Pending Status = iota + 1
	// Sent: handed to the notification service.
	Sent
	// Suppressed: not sent; see Reason.
	Suppressed
	// Failed: the notification failed on every channel.
	Failed
	// Responded: answered.
	Responded
	// Expired: the link expired unanswered.
	Expired
)

// Reason says why an invitation was suppressed.
type Reason int

// Reasons, as cx.survey.v1.SuppressionReason numbers them.
const (
	// NotSuppressed is the zero value.
	NotSuppressed Reason = iota
	// Fatigue: invited within the fatigue period, and not transactional.
	Fatigue
	// NoChannel: no email address or phone number to send to.
	NoChannel
	// NotDelivered: the notification service held the message back
	// (consent, an unsubscribe, a cap); Detail says why.
	NotDelivered
)

// Channel is a way to reach a customer, numbered as cx.journey.v1.Channel.
type Channel int

// Channels that carry invitations.
const (
	// AnyChannel lets the notification service choose the preferred one.
	AnyChannel Channel = 0
	// Email.
	Email Channel = 1
	// SMS.
	SMS Channel = 2
)

// Customer names the invited person by the identities the request gave.
type Customer struct {
	// CustomerID is the shop's own id.
	CustomerID string `json:"customer_id,omitempty"`
	// Email and Phone are contact identities.
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
	// AnonymousID is a visitor not yet identified.
	AnonymousID string `json:"anonymous_id,omitempty"`
}

// Key is the identity an invitation is keyed by: the shop's customer id,
// else the email (lower-cased), else the phone, else the anonymous id.
func (c Customer) Key() string {
	switch {
	case c.CustomerID != "":
		return "c:" + c.CustomerID
	case c.Email != "":
		return "e:" + strings.ToLower(strings.TrimSpace(c.Email))
	case c.Phone != "":
		return "p:" + c.Phone
	case c.AnonymousID != "":
		return "a:" + c.AnonymousID
	}
	return ""
}

// Answer is a customer's response.
type Answer struct {
	// Score as asked (agreement answers are not converted here).
	Score int `json:"score"`
	// Comment as written, trimmed; at most MaxComment characters.
	Comment string `json:"comment,omitempty"`
	// Sentiment and Topics are the comment's analysis.
	Sentiment comment.Sentiment `json:"sentiment,omitempty"`
	Topics    []string          `json:"topics,omitempty"`
	// Segments the customer was in when answering, for KPI cuts.
	Segments []string `json:"segments,omitempty"`
	// RespondedAt is the first answer's time: KPIs count it then.
	RespondedAt time.Time `json:"responded_at"`
	// UpdatedAt is the latest revision's time.
	UpdatedAt time.Time `json:"updated_at"`
	// Revision counts the answer's published versions, from 1; the
	// journey event of revision n has id <invitation>:answer:<n>.
	Revision int `json:"revision"`
	// Changed is set once the customer changed the answer; no further
	// change is taken.
	Changed bool `json:"changed,omitempty"`
	// Published is the latest revision published as survey.responded.
	Published int `json:"published,omitempty"`
	// SettleAt is set while the answer is a one-tap score not yet
	// settled: a link followed from a mail, which may be a security
	// scanner following every link. It is published (and counted as a
	// person's) only once SettleAt passes without a tap on another score,
	// or when the person goes on in the form.
	SettleAt time.Time `json:"settle_at,omitzero"`
}

// Settled reports whether the answer is a person's at now: not a one-tap
// score still inside its settling time.
func (a *Answer) Settled(now time.Time) bool { return a.SettleAt.IsZero() || !now.Before(a.SettleAt) }

// Invitation is one customer invited to one survey about one touchpoint.
type Invitation struct {
	// ID is derived by ID from what identifies the invitation.
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	// SurveyID and SurveyVersion name the definition it was made with;
	// Kind and CesForm are copied from it.
	SurveyID      string         `json:"survey_id"`
	SurveyVersion int            `json:"survey_version"`
	Kind          survey.Kind    `json:"kind"`
	CesForm       survey.CesForm `json:"ces_form,omitempty"`
	Customer      Customer       `json:"customer"`
	// Touchpoint is what it is about, such as "order:1001".
	Touchpoint string `json:"touchpoint"`
	// Channel is the one asked for or preferred; AnyChannel lets the
	// notification service choose.
	Channel Channel `json:"channel,omitempty"`
	// Transactional invitations are exempt from fatigue control.
	Transactional bool `json:"transactional,omitempty"`
	// Locale is the locale of the definition text chosen.
	Locale string `json:"locale"`
	Status Status `json:"status"`
	// TapsIgnoredUntil is set when taps on several scores came at once (a
	// scanner following every link): until then taps record nothing, and
	// the page asks for the score in its form.
	TapsIgnoredUntil time.Time `json:"taps_ignored_until,omitzero"`
	// Detail is why it was suppressed or failed, in the notification
	// service's words, when that decided it.
	Detail string `json:"detail,omitempty"`
	// FatigueKey is the customer key whose fatigue period this invitation
	// claimed, so a message that never went out can give it back.
	FatigueKey string `json:"fatigue_key,omitempty"`
	// Reason is set when Status is Suppressed.
	Reason Reason `json:"reason,omitempty"`
	// NotificationID is the notification that carries it.
	NotificationID string `json:"notification_id,omitempty"`
	// CauseEventID is the journey event that led to it.
	CauseEventID string `json:"cause_event_id,omitempty"`
	// Segments the customer was in when invited.
	Segments []string `json:"segments,omitempty"`
	// CreatedAt is when it was made; ExpiresAt when its links stop working.
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Answer is nil until answered.
	Answer *Answer `json:"answer,omitempty"`
}

// ID derives the invitation id from what identifies an invitation: the
// same tenant, survey, customer and touchpoint always give the same id, so
// a repeated request finds the first invitation.
func ID(tenant, surveyID, customerKey, touchpoint string) string {
	h := sha256.Sum256([]byte(tenant + "\x00" + surveyID + "\x00" + customerKey + "\x00" + touchpoint))
	return hex.EncodeToString(h[:12])
}

// CheckTouchpoint reports whether tp is a touchpoint such as
// "order:1001", naming field.
func CheckTouchpoint(field, tp string) error {
	if tp == "" {
		return &survey.FieldError{Field: field, Reason: "required, such as \"order:1001\" or \"ticket:77\""}
	}
	if len(tp) > 128 || strings.ContainsAny(tp, " \t\r\n|") {
		return &survey.FieldError{Field: field, Reason: "at most 128 characters without spaces"}
	}
	return nil
}

// TouchpointKind is the part of a touchpoint before ":", such as "order".
func TouchpointKind(tp string) string {
	k, _, _ := strings.Cut(tp, ":")
	return k
}

// Fatigued reports whether a customer last invited at last may not be
// invited at now, for a period; the zero last means never invited.
func Fatigued(last, now time.Time, period time.Duration) bool {
	return !last.IsZero() && period > 0 && now.Sub(last) < period
}

// MaxComment is the longest comment taken, in characters.
const MaxComment = 2000

// Errors of answering.
var (
	// ErrUsed: the answer was already changed once; the link is used up.
	ErrUsed = errors.New("invitation: the answer was already changed")
	// ErrNotAnswerable: the invitation was suppressed, so it has no link.
	ErrNotAnswerable = errors.New("invitation: suppressed invitations cannot be answered")
	// ErrNoScore: a comment came before any score.
	ErrNoScore = errors.New("invitation: a score is needed first")
)

// Outcome is what Respond did.
type Outcome int

// Outcomes.
const (
	// Unchanged: the same answer again (a second tap, a reload); nothing
	// to store or publish.
	Unchanged Outcome = iota
	// First: the first answer.
	First
	// Completed: the comment added to the first answer.
	Completed
	// Changed: the one change the customer may make.
	Changed
	// Withdrawn: an unsettled one-tap score taken back (see ErrScanned).
	Withdrawn
)

// Submission is one answer from the page: a score (nil when only a
// comment is sent) and a comment (nil when none is sent).
type Submission struct {
	Score   *int
	Comment *string
	// Tap marks a score from a one-tap link (a GET), which a mail
	// scanner may have followed; Settle is how long such a score waits
	// before it counts.
	Tap    bool
	Settle time.Duration
}

// ErrScanned: taps on several scores came within one settling time, as a
// scanner following every link of a mail does; nothing was recorded, and
// the page asks the person to choose.
var ErrScanned = errors.New("invitation: several scores were tapped at once; choose one on the page")

// Respond applies a submission to inv at now, checking the score against
// def. The first answer needs a score; adding the comment to it is part of
// answering; changing the score or an existing comment is allowed once;
// sending the same again changes nothing.
func (inv *Invitation) Respond(def survey.Definition, s Submission, segments []string, now time.Time) (Outcome, error) {
	if inv.Status == Suppressed {
		return Unchanged, ErrNotAnswerable
	}
	if s.Score != nil {
		if err := def.CheckScore("score", *s.Score); err != nil {
			return Unchanged, err
		}
	}
	if s.Comment != nil {
		c := strings.TrimSpace(*s.Comment)
		if !utf8.ValidString(c) {
			return Unchanged, &survey.FieldError{Field: "comment", Reason: "is not valid text"}
		}
		if n := utf8.RuneCountInString(c); n > MaxComment {
			return Unchanged, &survey.FieldError{Field: "comment", Reason: fmt.Sprintf("is %d characters; at most %d are taken", n, MaxComment)}
		}
		s.Comment = &c
	}
	a := inv.Answer
	if s.Tap && now.Before(inv.TapsIgnoredUntil) {
		return Unchanged, ErrScanned
	}
	if a != nil && !a.Settled(now) {
		switch {
		case s.Tap && s.Score != nil && *s.Score != a.Score:
			// Another score tapped while the first still settles: a scanner
			// going through the links. Withdraw the unsettled tap (it was
			// never published), ignore the scanner's further taps for as
			// long again, and let the person answer in the form.
			inv.Answer, inv.Status = nil, Sent
			inv.TapsIgnoredUntil = now.Add(s.Settle)
			return Withdrawn, ErrScanned
		case s.Tap:
			return Unchanged, nil
		}
		// The person went on in the form: the tap was theirs, and what
		// they send now is still their first answer, not a change.
		a.SettleAt = time.Time{}
		if s.Score != nil {
			a.Score = *s.Score
		}
		if s.Comment != nil {
			a.setComment(*s.Comment)
		}
		a.UpdatedAt = now
		return First, nil
	}
	if a == nil {
		if s.Score == nil {
			return Unchanged, ErrNoScore
		}
		a = &Answer{Score: *s.Score, RespondedAt: now, UpdatedAt: now, Revision: 1, Segments: segments}
		if s.Tap && s.Settle > 0 {
			a.SettleAt = now.Add(s.Settle)
		}
		if s.Comment != nil {
			a.setComment(*s.Comment)
		}
		inv.Answer, inv.Status = a, Responded
		return First, nil
	}
	scoreChange := s.Score != nil && *s.Score != a.Score
	commentChange := s.Comment != nil && *s.Comment != a.Comment
	switch {
	case !scoreChange && !commentChange:
		return Unchanged, nil
	case !scoreChange && a.Comment == "" && !a.Changed && a.Revision == 1:
		a.setComment(*s.Comment)
		a.Revision++
		a.UpdatedAt = now
		return Completed, nil
	case a.Changed:
		return Unchanged, ErrUsed
	}
	if s.Score != nil {
		a.Score = *s.Score
	}
	if s.Comment != nil {
		a.setComment(*s.Comment)
	}
	a.Revision++
	a.Changed = true
	a.UpdatedAt = now
	return Changed, nil
}

func (a *Answer) setComment(c string) {
	a.Comment = c
	if c == "" {
		a.Sentiment, a.Topics = comment.None, nil
		return
	}
	an := comment.Analyze(c)
	a.Sentiment, a.Topics = an.Sentiment, an.Topics
}

// EventID is the journey event id of the answer's current revision.
func (inv *Invitation) EventID() string {
	return fmt.Sprintf("%s:answer:%d", inv.ID, inv.Answer.Revision)
}
