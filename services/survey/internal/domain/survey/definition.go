// Package survey holds survey definitions: the kinds of question (NPS, CSAT,
// CES), their scales, their texts per locale, the shop's branding, the
// default set every tenant has, and the rules a definition must follow.
package survey

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Kind is the kind of question a survey asks.
type Kind int

// Kinds. The zero value is not one.
const (
	// NPS is the Net Promoter Score question, 0 to 10.
	NPS Kind = iota + 1
	// CSAT is customer satisfaction, 1 to 5.
	CSAT
	// CES is customer effort, 1 to 5, lower is better.
	CES
)

// String returns "nps", "csat" or "ces": the survey_kind template variable.
func (k Kind) String() string {
	switch k {
	case NPS:
		return "nps"
	case CSAT:
		return "csat"
	case CES:
		return "ces"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Valid reports whether k is one of the kinds.
func (k Kind) Valid() bool { return k >= NPS && k <= CES }

// Scale returns the lowest and highest score of the kind.
func (k Kind) Scale() (lo, hi int) {
	if k == NPS {
		return 0, 10
	}
	return 1, 5
}

// CesForm is how a CES question is put.
type CesForm int

// CES forms.
const (
	// Effort asks "how easy was it", 1 (very easy) to 5 (very difficult).
	Effort CesForm = iota
	// Agreement asks "the shop made it easy for me", 1 (strongly disagree)
	// to 5 (strongly agree); reported on the effort scale as 6 minus the
	// answer.
	Agreement
)

// Text is the wording of a survey in one language.
type Text struct {
	// Locale is a BCP 47 tag such as "fa" or "en".
	Locale string `json:"locale"`
	// Question is the score question.
	Question string `json:"question"`
	// LowLabel and HighLabel name the ends of the scale.
	LowLabel  string `json:"low_label,omitempty"`
	HighLabel string `json:"high_label,omitempty"`
	// ScoreLabels name every score, lowest first, or are empty.
	ScoreLabels []string `json:"score_labels,omitempty"`
	// CommentQuestion is asked after the score.
	CommentQuestion string `json:"comment_question,omitempty"`
	// ThankYou is shown once the answer is recorded.
	ThankYou string `json:"thank_you,omitempty"`
}

// Branding is how the response page looks for a shop.
type Branding struct {
	// ShopName is the shop's name as customers know it.
	ShopName string `json:"shop_name,omitempty"`
	// PrimaryColor is "#rrggbb".
	PrimaryColor string `json:"primary_color,omitempty"`
	// LogoURL is an https URL; accepted, not yet shown on the page.
	LogoURL string `json:"logo_url,omitempty"`
}

// Definition is one version of a survey definition.
type Definition struct {
	// ID is unique per tenant: lower-case letters, digits and "-".
	ID string `json:"id"`
	// Version counts from 1; every update stores the next.
	Version int `json:"version"`
	// Name is for people.
	Name string `json:"name"`
	// Kind cannot change after create.
	Kind Kind `json:"kind"`
	// CesForm is how a CES question is put; Effort for other kinds.
	CesForm CesForm `json:"ces_form,omitempty"`
	// Texts per locale; the first is the fallback.
	Texts []Text `json:"texts"`
	// CommentEnabled asks the comment question after the score.
	CommentEnabled bool `json:"comment_enabled"`
	// LinkTTL is how long links live; 0 means the service's default.
	LinkTTL time.Duration `json:"link_ttl,omitempty"`
	// InvitationTemplateID is the notification template; empty for the
	// default.
	InvitationTemplateID string `json:"invitation_template_id,omitempty"`
	// Branding is how the page looks.
	Branding Branding `json:"branding"`
	// Archived surveys take no new invitations.
	Archived bool `json:"archived,omitempty"`
	// Builtin marks the default set and tenants' versions of it.
	Builtin bool `json:"builtin,omitempty"`
	// UpdatedAt is when this version was stored.
	UpdatedAt time.Time `json:"updated_at"`
}

// MaxLinkTTL bounds a definition's link lifetime.
const MaxLinkTTL = 366 * 24 * time.Hour

// DefaultTemplate is the notification template invitations use unless a
// definition names another.
const DefaultTemplate = "survey-invitation"

// ErrInvalid is wrapped by every *FieldError.
var ErrInvalid = errors.New("invalid survey definition")

// FieldError names the request field that makes a definition invalid, such
// as "survey.texts[1].question".
type FieldError struct {
	Field  string
	Reason string
}

// Error returns "field: reason".
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

var (
	idRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
	localeRE = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
	colorRE  = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

// CheckID reports whether id is a valid survey id, naming field.
func CheckID(field, id string) error {
	if id == "" {
		return &FieldError{Field: field, Reason: "required"}
	}
	if !idRE.MatchString(id) {
		return &FieldError{Field: field, Reason: fmt.Sprintf("%q must be lower-case letters, digits and \"-\", at most 64 characters", id)}
	}
	return nil
}

// Text limits keep the page small and the template variables sane.
const (
	maxName     = 200
	maxQuestion = 500
	maxLabel    = 100
)

// Validate checks a definition as a request gives it; the error is a
// *FieldError whose field is under "survey.".
func (d Definition) Validate() error {
	if err := CheckID("survey.survey_id", d.ID); err != nil {
		return err
	}
	if len([]rune(d.Name)) > maxName {
		return &FieldError{"survey.name", fmt.Sprintf("at most %d characters", maxName)}
	}
	if !d.Kind.Valid() {
		return &FieldError{"survey.kind", "required: SURVEY_KIND_NPS, SURVEY_KIND_CSAT or SURVEY_KIND_CES"}
	}
	if d.CesForm != Effort && d.Kind != CES {
		return &FieldError{"survey.ces_form", "only CES surveys have a form"}
	}
	if d.CesForm != Effort && d.CesForm != Agreement {
		return &FieldError{"survey.ces_form", "must be CES_FORM_EFFORT or CES_FORM_AGREEMENT"}
	}
	if len(d.Texts) == 0 {
		return &FieldError{"survey.texts", "at least one text is required"}
	}
	lo, hi := d.Kind.Scale()
	seen := map[string]bool{}
	for i, t := range d.Texts {
		f := fmt.Sprintf("survey.texts[%d]", i)
		switch {
		case t.Locale == "":
			return &FieldError{f + ".locale", "required"}
		case !localeRE.MatchString(t.Locale):
			return &FieldError{f + ".locale", fmt.Sprintf("%q is not a language tag such as \"fa\" or \"en\"", t.Locale)}
		case seen[strings.ToLower(t.Locale)]:
			return &FieldError{f + ".locale", fmt.Sprintf("%q appears twice", t.Locale)}
		case strings.TrimSpace(t.Question) == "":
			return &FieldError{f + ".question", "required"}
		case len([]rune(t.Question)) > maxQuestion:
			return &FieldError{f + ".question", fmt.Sprintf("at most %d characters", maxQuestion)}
		case len([]rune(t.CommentQuestion)) > maxQuestion:
			return &FieldError{f + ".comment_question", fmt.Sprintf("at most %d characters", maxQuestion)}
		case len([]rune(t.ThankYou)) > maxQuestion:
			return &FieldError{f + ".thank_you", fmt.Sprintf("at most %d characters", maxQuestion)}
		case len([]rune(t.LowLabel)) > maxLabel:
			return &FieldError{f + ".low_label", fmt.Sprintf("at most %d characters", maxLabel)}
		case len([]rune(t.HighLabel)) > maxLabel:
			return &FieldError{f + ".high_label", fmt.Sprintf("at most %d characters", maxLabel)}
		case len(t.ScoreLabels) != 0 && len(t.ScoreLabels) != hi-lo+1:
			return &FieldError{f + ".score_labels", fmt.Sprintf("needs %d labels (%d to %d) or none, got %d", hi-lo+1, lo, hi, len(t.ScoreLabels))}
		}
		for j, l := range t.ScoreLabels {
			if len([]rune(l)) > maxLabel {
				return &FieldError{fmt.Sprintf("%s.score_labels[%d]", f, j), fmt.Sprintf("at most %d characters", maxLabel)}
			}
		}
		seen[strings.ToLower(t.Locale)] = true
	}
	if d.LinkTTL < 0 || d.LinkTTL > MaxLinkTTL {
		return &FieldError{"survey.link_ttl", "must be between 0 (the service default, SURVEY_LINK_TTL) and 366 days"}
	}
	if d.InvitationTemplateID != "" && !idRE.MatchString(d.InvitationTemplateID) {
		return &FieldError{"survey.invitation_template_id", fmt.Sprintf("%q is not a template id", d.InvitationTemplateID)}
	}
	b := d.Branding
	if len([]rune(b.ShopName)) > maxLabel {
		return &FieldError{"survey.branding.shop_name", fmt.Sprintf("at most %d characters", maxLabel)}
	}
	if b.PrimaryColor != "" && !colorRE.MatchString(b.PrimaryColor) {
		return &FieldError{"survey.branding.primary_color", fmt.Sprintf("%q is not a colour such as \"#0b6e4f\"", b.PrimaryColor)}
	}
	if b.LogoURL != "" && (!strings.HasPrefix(b.LogoURL, "https://") || len(b.LogoURL) > 2048 || strings.ContainsAny(b.LogoURL, " \"'<>")) {
		return &FieldError{"survey.branding.logo_url", "must be an https:// URL"}
	}
	return nil
}

// Template is the notification template invitations are sent with.
func (d Definition) Template() string {
	if d.InvitationTemplateID == "" {
		return DefaultTemplate
	}
	return d.InvitationTemplateID
}

// TextFor returns the text for locale: an exact match, else one of the same
// language ("fa" for "fa-IR"), else the first.
func (d Definition) TextFor(locale string) Text {
	locale = strings.ToLower(locale)
	lang, _, _ := strings.Cut(locale, "-")
	for _, t := range d.Texts {
		if strings.ToLower(t.Locale) == locale {
			return t
		}
	}
	for _, t := range d.Texts {
		l, _, _ := strings.Cut(strings.ToLower(t.Locale), "-")
		if l == lang {
			return t
		}
	}
	if len(d.Texts) == 0 {
		return Text{}
	}
	return d.Texts[0]
}

// CheckScore reports whether score is on the definition's scale, naming
// field.
func (d Definition) CheckScore(field string, score int) error {
	lo, hi := d.Kind.Scale()
	if score < lo || score > hi {
		return &FieldError{Field: field, Reason: fmt.Sprintf("%d is out of range %d-%d for %s", score, lo, hi, d.Kind)}
	}
	return nil
}

// Effort converts a CES answer to the effort scale (lower is better); other
// kinds' scores are returned as they are.
func (d Definition) Effort(score int) int {
	if d.Kind == CES && d.CesForm == Agreement {
		return 6 - score
	}
	return score
}
