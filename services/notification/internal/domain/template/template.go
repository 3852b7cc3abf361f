// Package template holds message templates — one content per channel and
// locale, versioned as a whole — and renders them safely: a template that
// fails renders nothing at all.
package template

import (
	"fmt"
	htmltemplate "html/template"
	"regexp"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
)

// Template is a message in every channel and language it is sent in.
type Template struct {
	ID              string                `json:"id"`
	Version         int                   `json:"version"`
	Description     string                `json:"description,omitempty"`
	DefaultCategory notification.Category `json:"default_category,omitempty"`
	Contents        []Content             `json:"contents"`
	UpdatedAt       time.Time             `json:"updated_at"`
	// Default marks a template shipped with Bazgasht rather than a
	// tenant's own.
	Default bool `json:"default,omitempty"`
}

// Content is a template's text for one channel in one language.
type Content struct {
	Channel notification.Channel `json:"channel"`
	Locale  string               `json:"locale"`
	Subject string               `json:"subject,omitempty"`
	Text    string               `json:"text"`
	HTML    string               `json:"html,omitempty"`
}

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// Validate checks the template and parses every content, naming the field
// (as in the API: contents[1].html_body) and the line of a syntax error.
func (t *Template) Validate() error {
	if !idRE.MatchString(t.ID) {
		return &notification.FieldError{Field: "template.template_id", Problem: fmt.Sprintf("%q must be lower-case letters, digits and '-', at most 64", t.ID)}
	}
	if t.DefaultCategory != "" && t.DefaultCategory != notification.Marketing && t.DefaultCategory != notification.Transactional {
		return &notification.FieldError{Field: "template.default_category", Problem: "is not a category"}
	}
	if len(t.Contents) == 0 {
		return &notification.FieldError{Field: "template.contents", Problem: "needs at least one content"}
	}
	seen := map[string]bool{}
	for i, c := range t.Contents {
		f := func(name string) string { return fmt.Sprintf("template.contents[%d].%s", i, name) }
		switch {
		case !c.Channel.Valid():
			return &notification.FieldError{Field: f("channel"), Problem: "is required: email, sms, push or webhook"}
		case c.Locale == "" || len(c.Locale) > 35:
			return &notification.FieldError{Field: f("locale"), Problem: "is required, a BCP 47 tag such as fa or en"}
		case seen[string(c.Channel)+"/"+c.Locale]:
			return &notification.FieldError{Field: f("locale"), Problem: fmt.Sprintf("%s/%s appears twice", c.Channel, c.Locale)}
		case c.Channel == notification.Email && strings.TrimSpace(c.Subject) == "":
			return &notification.FieldError{Field: f("subject"), Problem: "is required for email"}
		case strings.TrimSpace(c.Text) == "":
			return &notification.FieldError{Field: f("text_body"), Problem: "is required"}
		}
		seen[string(c.Channel)+"/"+c.Locale] = true
		for _, p := range []struct{ name, src string }{{"subject", c.Subject}, {"text_body", c.Text}} {
			if _, err := texttemplate.New(p.name).Option("missingkey=error").Funcs(Funcs).Parse(p.src); err != nil {
				return &notification.FieldError{Field: f(p.name), Problem: cleanErr(err)}
			}
		}
		if _, err := htmltemplate.New("html_body").Option("missingkey=error").Funcs(htmltemplate.FuncMap(Funcs)).Parse(c.HTML); err != nil {
			return &notification.FieldError{Field: f("html_body"), Problem: cleanErr(err)}
		}
	}
	return nil
}

// cleanErr keeps the line and problem of a parse error, without Go's
// "template: name:" noise.
func cleanErr(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "template: ")
	s = strings.TrimPrefix(s, "html/template:")
	return strings.TrimSpace(s)
}

// Channels lists the channels the template has content for.
func (t *Template) Channels() []notification.Channel {
	var out []notification.Channel
	for _, c := range t.Contents {
		dup := false
		for _, o := range out {
			dup = dup || o == c.Channel
		}
		if !dup {
			out = append(out, c.Channel)
		}
	}
	return out
}

// Content picks the content for channel ch in locale: the exact locale, then
// the same language ("fa" for "fa-IR"), then the channel's first content.
func (t *Template) Content(ch notification.Channel, locale string) (Content, bool) {
	lang, _, _ := strings.Cut(strings.ToLower(locale), "-")
	var first, sameLang *Content
	for i := range t.Contents {
		c := &t.Contents[i]
		if c.Channel != ch {
			continue
		}
		if strings.EqualFold(c.Locale, locale) {
			return *c, true
		}
		if first == nil {
			first = c
		}
		if l, _, _ := strings.Cut(strings.ToLower(c.Locale), "-"); l == lang && sameLang == nil {
			sameLang = c
		}
	}
	if sameLang != nil {
		return *sameLang, true
	}
	if first != nil {
		return *first, true
	}
	return Content{}, false
}
