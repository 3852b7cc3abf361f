package template_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"
	"github.com/bazgasht/bazgasht/services/notification/internal/domain/template"
)

func render(t *testing.T, text string, vars map[string]string) (string, error) {
	t.Helper()
	out, err := template.Render(template.Content{Channel: notification.SMS, Locale: "fa", Text: text},
		template.Data{Profile: map[string]any{"first_name": "سارا"}, Event: map[string]any{"occurred_at": "2026-03-20T21:00:00Z"}, Vars: vars})
	return out.Text, err
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	cases := []struct{ tpl, want string }{
		{`{{jalali .Event.occurred_at}}`, "1405/01/01"}, // Nowruz: 21 March 2026, 00:30 in Tehran
		{`{{jalaliLong .Vars.t}}`, "۳۰ آذر ۱۴۰۵"},
		{`{{faDigits "سفارش 1234"}}`, "سفارش ۱۲۳۴"},
		{`{{toman .Vars.amount}}`, "۱٬۲۵۰٬۰۰۰ تومان"},
		{`{{rial .Vars.amount}}`, "۱٬۲۵۰٬۰۰۰ ریال"},
		{`{{rialToToman .Vars.amount}}`, "۱۲۵٬۰۰۰ تومان"},
		{`{{toman "999.5"}}`, "۱٬۰۰۰ تومان"},
		{`{{thousands 1234567}}`, "1,234,567"},
		{`{{range scale 1 5}}{{.}}{{end}}`, "12345"},
		{`{{$v := .Vars}}{{range scale 0 1}}[{{scoreURL $v .}}]{{end}}`, "[u0][u1]"},
		{`{{default "مشتری" .Vars.empty}} {{default "x" .Profile.first_name}}`, "مشتری سارا"},
	}
	vars := map[string]string{"t": "2026-12-21T10:00:00Z", "amount": "1250000", "score_url_0": "u0", "score_url_1": "u1", "empty": ""}
	for _, tc := range cases {
		t.Run(tc.tpl, func(t *testing.T) {
			t.Parallel()
			got, err := render(t, tc.tpl, vars)
			if err != nil || got != tc.want {
				t.Fatalf("= %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestRenderFailsWholeAndNamesWhy(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, tpl, want string }{
		{"missing key", `hello {{.Vars.code}}`, `map has no entry for key "code"`},
		{"bad amount", `{{toman .Vars.x}}`, `"abc" is not an amount`},
		{"bad time", `{{jalali .Vars.x}}`, "jalali"},
		{"huge scale", `{{range scale 0 1000}}{{end}}`, "scale"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := render(t, tc.tpl, map[string]string{"x": "abc"})
			if !errors.Is(err, template.ErrRender) || !strings.Contains(err.Error(), tc.want) || got != "" {
				t.Fatalf("= %q, %v; want no text and an error with %q", got, err, tc.want)
			}
		})
	}
	// The subject renders, the body does not: nothing comes back.
	out, err := template.Render(template.Content{Channel: notification.Email, Locale: "en", Subject: "ok", Text: "{{.Vars.nope}}"}, template.Data{Vars: map[string]string{}})
	if err == nil || out != (template.Rendered{}) {
		t.Fatalf("= %+v, %v; want nothing and an error", out, err)
	}
}

// TestRenderRecoversFromAPanickingHelper is not parallel: it adds a helper
// to the shared set for its duration.
func TestRenderRecoversFromAPanickingHelper(t *testing.T) {
	template.Funcs["boom"] = func() string { panic("kaboom") }
	defer delete(template.Funcs, "boom")
	_, err := render(t, `a{{boom}}b`, nil)
	if !errors.Is(err, template.ErrRender) || !strings.Contains(err.Error(), "kaboom") {
		t.Fatalf("= %v, want a render error", err)
	}
}

func TestHTMLIsEscaped(t *testing.T) {
	t.Parallel()
	out, err := template.Render(template.Content{Channel: notification.Email, Locale: "en", Subject: "s", Text: "{{.Vars.n}}", HTML: `<p>{{.Vars.n}}</p><a href="{{.Vars.u}}">x</a>`},
		template.Data{Vars: map[string]string{"n": "<script>alert(1)</script>", "u": "javascript:alert(1)"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.HTML, "<script>") || !strings.Contains(out.HTML, "&lt;script&gt;") || strings.Contains(out.HTML, "javascript:") {
		t.Fatalf("HTML not escaped: %s", out.HTML)
	}
	if out.Text != "<script>alert(1)</script>" {
		t.Fatalf("text part was escaped: %q", out.Text)
	}
}

func TestContentPicksTheLocale(t *testing.T) {
	t.Parallel()
	tpl := template.Template{Contents: []template.Content{
		{Channel: notification.SMS, Locale: "en", Text: "en"}, {Channel: notification.SMS, Locale: "fa", Text: "fa"}, {Channel: notification.Email, Locale: "fa", Text: "mail"}}}
	for locale, want := range map[string]string{"fa": "fa", "fa-IR": "fa", "en": "en", "de": "en", "": "en"} {
		if c, _ := tpl.Content(notification.SMS, locale); c.Text != want {
			t.Errorf("Content(sms, %q) = %q, want %q", locale, c.Text, want)
		}
	}
	if _, ok := tpl.Content(notification.Push, "fa"); ok {
		t.Error("a channel without content was found")
	}
}

// TestDefaultsRenderEveryContent renders every shipped template in every
// channel and locale with the variables its callers send.
func TestDefaultsRenderEveryContent(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"survey_url": "https://s/x", "survey_id": "csat-delivery", "survey_kind": "csat", "touchpoint": "order:1", "invitation_id": "i1",
		"question": "How was the delivery?", "shop_name": "Shop", "scale_min": "1", "scale_max": "5", "locale": "en",
		"product_id": "p1", "product_name": "Mug", "product_url": "https://shop/mug", "order_id": "1001"}
	for i := 1; i <= 5; i++ {
		vars["score_url_"+string(rune('0'+i))] = "https://s/score/" + string(rune('0'+i))
	}
	ids := map[string]bool{}
	for _, tpl := range template.Defaults() {
		ids[tpl.ID] = true
		if err := tpl.Validate(); err != nil {
			t.Fatalf("%s: %v", tpl.ID, err)
		}
		for _, c := range tpl.Contents {
			for _, unsub := range []string{"", "https://n/unsubscribe/x"} {
				out, err := template.Render(c, template.Data{Profile: map[string]any{"first_name": ""}, Event: map[string]any{}, Vars: vars, UnsubscribeURL: unsub})
				if err != nil || out.Text == "" || (c.Channel == notification.Email && (out.Subject == "" || out.HTML == "")) {
					t.Fatalf("%s %s/%s: %+v, %v", tpl.ID, c.Channel, c.Locale, out, err)
				}
				if tpl.ID == "survey-invitation" && c.Channel == notification.Email && (!strings.Contains(out.HTML, "https://s/score/1") || !strings.Contains(out.HTML, "https://s/score/5")) {
					t.Fatalf("survey email lacks a link per score: %s", out.HTML)
				}
				if unsub != "" && c.Channel == notification.Email && !strings.Contains(out.HTML, unsub) {
					t.Fatalf("%s %s: no unsubscribe link in the HTML", tpl.ID, c.Locale)
				}
			}
		}
	}
	for _, id := range []string{"survey-invitation", "vip-welcome", "winback", "back-in-stock", "viewed-discount", "big-order-thanks"} {
		if !ids[id] {
			t.Errorf("no default template %s", id)
		}
	}
}

// A product event without a page (the shop sent no url) still reads as a
// sentence: no dangling colon, no empty link.
func TestProductTemplatesWithoutAURL(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"product_id": "p1", "product_name": "Mug", "discount_code": "BACK10"}
	for _, tpl := range template.Defaults() {
		if tpl.ID != "viewed-discount" && tpl.ID != "back-in-stock" {
			continue
		}
		for _, c := range tpl.Contents {
			out, err := template.Render(c, template.Data{Profile: map[string]any{"first_name": "Sara"}, Event: map[string]any{}, Vars: vars})
			if err != nil {
				t.Fatalf("%s %s/%s: %v", tpl.ID, c.Channel, c.Locale, err)
			}
			for _, part := range []string{out.Text, out.HTML} {
				if strings.Contains(part, ": \n") || strings.HasSuffix(strings.TrimSpace(part), ":") || strings.Contains(part, `href=""`) || strings.Contains(part, "<no value>") {
					t.Fatalf("%s %s/%s reads badly without a url: %q", tpl.ID, c.Channel, c.Locale, part)
				}
			}
			if !strings.Contains(out.Text, "Mug") || (tpl.ID == "viewed-discount" && !strings.Contains(out.Text, "BACK10")) {
				t.Fatalf("%s %s/%s: %q lacks the product or the code", tpl.ID, c.Channel, c.Locale, out.Text)
			}
		}
	}
}
