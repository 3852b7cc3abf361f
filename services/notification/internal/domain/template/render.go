package template

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
)

// Data is what a template sees: .Profile, .Event, .Vars, plus .Locale and,
// for email, .UnsubscribeURL.
type Data struct {
	Profile        map[string]any
	Event          map[string]any
	Vars           map[string]string
	Locale         string
	UnsubscribeURL string
}

// Rendered is a message ready to hand to a provider.
type Rendered struct {
	Locale  string
	Subject string
	Text    string
	HTML    string
}

// ErrRender marks a template that could not be rendered: a missing key, a
// helper given the wrong value. The notification fails with the reason.
var ErrRender = errors.New("template")

// Render renders every part of c, or returns an error and nothing: a
// message is never sent half filled. A panic in a helper is an error too.
func Render(c Content, d Data) (out Rendered, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = Rendered{}, fmt.Errorf("%w: %v", ErrRender, r)
		}
	}()
	out.Locale = c.Locale
	if out.Subject, err = renderText("subject", c.Subject, d); err != nil {
		return Rendered{}, err
	}
	out.Subject = strings.Join(strings.Fields(out.Subject), " ") // no header injection
	if out.Text, err = renderText("text_body", c.Text, d); err != nil {
		return Rendered{}, err
	}
	if c.HTML != "" {
		t, perr := htmltemplate.New("html_body").Option("missingkey=error").Funcs(htmltemplate.FuncMap(Funcs)).Parse(c.HTML)
		if perr != nil {
			return Rendered{}, fmt.Errorf("%w: %s", ErrRender, cleanErr(perr))
		}
		var b bytes.Buffer
		if xerr := t.Execute(&b, d); xerr != nil {
			return Rendered{}, fmt.Errorf("%w: %s", ErrRender, cleanErr(xerr))
		}
		out.HTML = b.String()
	}
	return out, nil
}

func renderText(name, src string, d Data) (string, error) {
	if src == "" {
		return "", nil
	}
	t, err := texttemplate.New(name).Option("missingkey=error").Funcs(Funcs).Parse(src)
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrRender, cleanErr(err))
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("%w: %s", ErrRender, cleanErr(err))
	}
	return b.String(), nil
}
