package survey

import (
	"errors"
	"testing"
)

func TestDefaultsAreValid(t *testing.T) {
	t.Parallel()
	want := map[string]Kind{"nps": NPS, "csat-delivery": CSAT, "csat-support": CSAT, "ces-support": CES}
	for _, d := range Defaults() {
		if err := d.Validate(); err != nil {
			t.Errorf("default %s: %v", d.ID, err)
		}
		if want[d.ID] != d.Kind {
			t.Errorf("default %s kind %v, want %v", d.ID, d.Kind, want[d.ID])
		}
		delete(want, d.ID)
		if d.TextFor("fa").Locale != "fa" || d.TextFor("en-GB").Locale != "en" || d.TextFor("de").Locale != "fa" {
			t.Errorf("default %s: locale choice is wrong", d.ID)
		}
	}
	if len(want) != 0 {
		t.Fatalf("defaults lack %v", want)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	t.Parallel()
	good := func() Definition {
		d, _ := Default("nps")
		return d
	}
	cases := []struct {
		name  string
		edit  func(*Definition)
		field string
	}{
		{"id with capitals", func(d *Definition) { d.ID = "NPS" }, "survey.survey_id"},
		{"no kind", func(d *Definition) { d.Kind = 0 }, "survey.kind"},
		{"ces form on nps", func(d *Definition) { d.CesForm = Agreement }, "survey.ces_form"},
		{"no texts", func(d *Definition) { d.Texts = nil }, "survey.texts"},
		{"empty question", func(d *Definition) { d.Texts[1].Question = " " }, "survey.texts[1].question"},
		{"bad locale", func(d *Definition) { d.Texts[0].Locale = "farsi!" }, "survey.texts[0].locale"},
		{"duplicate locale", func(d *Definition) { d.Texts[1].Locale = "FA" }, "survey.texts[1].locale"},
		{"wrong label count", func(d *Definition) { d.Texts[0].ScoreLabels = []string{"a", "b"} }, "survey.texts[0].score_labels"},
		{"colour", func(d *Definition) { d.Branding.PrimaryColor = "red;}" }, "survey.branding.primary_color"},
		{"logo over http", func(d *Definition) { d.Branding.LogoURL = "http://x/logo.png" }, "survey.branding.logo_url"},
		{"ttl too long", func(d *Definition) { d.LinkTTL = MaxLinkTTL * 2 }, "survey.link_ttl"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := good()
			tc.edit(&d)
			var fe *FieldError
			err := d.Validate()
			if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want a field error on %s", err, tc.field)
			}
		})
	}
}

func TestScalesAndEffort(t *testing.T) {
	t.Parallel()
	nps, _ := Default("nps")
	ces, _ := Default("ces-support")
	if nps.CheckScore("score", 11) == nil || nps.CheckScore("score", 0) != nil || ces.CheckScore("score", 0) == nil {
		t.Fatal("score range checks are wrong")
	}
	if ces.Effort(5) != 1 || ces.Effort(1) != 5 || nps.Effort(9) != 9 {
		t.Fatal("agreement answers must turn into effort as 6 minus the answer")
	}
}
