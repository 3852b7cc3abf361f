package ports

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bazgasht/bazgasht/services/survey/internal/app"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/invitation"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/survey"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/token"
)

//go:embed templates/page.html
var templateFS embed.FS

var pageTmpl = template.Must(template.ParseFS(templateFS, "templates/page.html"))

// maxForm bounds a posted form: room for a 2,000-character Persian
// comment percent-encoded, and for telling a customer it is too long.
const maxForm = 64 << 10

// Page serves the response page: GET /s/<token> shows the question, or
// records the score a one-tap link carries and asks for the comment; POST
// /s/<token> records a score and a comment. The signed token in the path
// is the only credential, so a form cannot be forged without it (the
// page's CSRF protection). No JavaScript is needed.
type Page struct {
	app *app.App
	log *slog.Logger
}

// NewPage returns the page handler.
func NewPage(a *app.App, log *slog.Logger) (*Page, error) {
	if a == nil || log == nil {
		return nil, errors.New("page: the app and a logger are required")
	}
	return &Page{app: a, log: log}, nil
}

// Handler routes the page.
func (p *Page) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /s/{token}", p.get)
	mux.HandleFunc("POST /s/{token}", p.post)
	mux.HandleFunc("/s/{token}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "a survey link is opened (GET) or answered (POST)", http.StatusMethodNotAllowed)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p.problem(w, http.StatusNotFound, acceptLanguage(r.Header.Get("Accept-Language")), "", "", "invalid")
	})
	return mux
}

type scoreButton struct {
	Value  int
	Digits string
	Label  string
	Chosen bool
}

type view struct {
	View, Lang, Dir, Shop, Title, Message string
	Color, OnColor                        template.CSS
	T                                     pageText
	Action, Question, LowLabel, HighLabel string
	CommentQuestion, ThankYou, Comment    string
	Error                                 string
	Scores                                []scoreButton
	Chosen                                int
	ChosenDigits                          string
	MaxComment                            int
}

func headers(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src https:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
}

func (p *Page) render(w http.ResponseWriter, code int, v view) {
	headers(w)
	w.WriteHeader(code)
	if err := pageTmpl.ExecuteTemplate(w, "page", v); err != nil {
		p.log.Error("rendering the response page", "err", err)
	}
}

// base is the view of a page about one invitation.
func base(pg app.Page, tok string) view {
	l := lang(pg.Invitation.Locale)
	txt := pg.Survey.TextFor(pg.Invitation.Locale)
	color, on := brandColors(pg.Survey.Branding.PrimaryColor)
	v := view{Lang: l, Dir: dir(l), Shop: pg.Survey.Branding.ShopName, T: texts[l], Title: txt.Question, Color: color, OnColor: on,
		Action: "/s/" + tok, Question: txt.Question, LowLabel: txt.LowLabel, HighLabel: txt.HighLabel,
		CommentQuestion: txt.CommentQuestion, ThankYou: txt.ThankYou, MaxComment: invitation.MaxComment, Chosen: -1}
	if v.CommentQuestion == "" {
		v.CommentQuestion = texts[l].YourComment
	}
	if v.ThankYou == "" {
		v.ThankYou = texts[l].Recorded
	}
	lo, hi := pg.Survey.Kind.Scale()
	if a := pg.Invitation.Answer; a != nil {
		v.Chosen, v.ChosenDigits, v.Comment = a.Score, digits(l, a.Score), a.Comment
	}
	for n := lo; n <= hi; n++ {
		b := scoreButton{Value: n, Digits: digits(l, n), Chosen: n == v.Chosen}
		if len(txt.ScoreLabels) == hi-lo+1 {
			b.Label = txt.ScoreLabels[n-lo]
		}
		v.Scores = append(v.Scores, b)
	}
	return v
}

func dir(l string) string {
	if l == "fa" {
		return "rtl"
	}
	return "ltr"
}

// brandColors returns the shop's colour, or the default, and black or
// white text, whichever contrasts more with it.
func brandColors(c string) (template.CSS, template.CSS) {
	if len(c) != 7 || c[0] != '#' {
		c = "#0b5cad"
	}
	rgb, err := strconv.ParseUint(c[1:], 16, 32)
	if err != nil {
		c, rgb = "#0b5cad", 0x0b5cad
	}
	lin := func(v uint64) float64 {
		f := float64(v) / 255
		if f <= 0.03928 {
			return f / 12.92
		}
		return math.Pow((f+0.055)/1.055, 2.4)
	}
	lum := 0.2126*lin(rgb>>16&0xff) + 0.7152*lin(rgb>>8&0xff) + 0.0722*lin(rgb&0xff)
	// Contrast with white is 1.05/(L+0.05), with black (L+0.05)/0.05.
	if 1.05/(lum+0.05) >= (lum+0.05)/0.05 {
		return template.CSS(c), "#ffffff"
	}
	return template.CSS(c), "#000000"
}

// problem renders a clear page for a link that cannot be answered.
func (p *Page) problem(w http.ResponseWriter, code int, l, shop, color, kind string) {
	t := texts[l]
	c, on := brandColors(color)
	v := view{View: "problem", Lang: l, Dir: dir(l), Shop: shop, T: t, Color: c, OnColor: on}
	switch kind {
	case "invalid":
		v.Title, v.Message = t.InvalidTitle, t.Invalid
	case "expired":
		v.Title, v.Message = t.ExpiredTitle, t.Expired
	case "used":
		v.Title, v.Message = t.UsedTitle, t.Used
	case "score":
		v.Title, v.Message = t.BadScoreTitle, t.BadScore
	case "big":
		v.Title, v.Message = t.ErrorTitle, t.TooBig
	default:
		v.Title, v.Message = t.ErrorTitle, t.Error
	}
	if v.Shop == "" {
		v.Shop = t.Title
	}
	p.render(w, code, v)
}

// fail renders the page for err from Open or Respond.
func (p *Page) fail(w http.ResponseWriter, r *http.Request, pg app.Page, err error) {
	l, shop, color := acceptLanguage(r.Header.Get("Accept-Language")), "", ""
	if pg.Invitation.ID != "" {
		l, shop, color = lang(pg.Invitation.Locale), pg.Survey.Branding.ShopName, pg.Survey.Branding.PrimaryColor
	}
	var fe *survey.FieldError
	switch {
	case errors.Is(err, app.ErrLinkInvalid):
		p.problem(w, http.StatusNotFound, l, shop, color, "invalid")
	case errors.Is(err, token.ErrExpired):
		p.problem(w, http.StatusGone, l, shop, color, "expired")
	case errors.Is(err, invitation.ErrUsed):
		p.problem(w, http.StatusConflict, l, shop, color, "used")
	case errors.As(err, &fe) && fe.Field == "score", errors.Is(err, invitation.ErrNoScore):
		p.problem(w, http.StatusBadRequest, l, shop, color, "score")
	default:
		// The cause goes to the log, never to the customer; no personal
		// data is in it.
		p.log.ErrorContext(r.Context(), "survey answer failed", "invitation", pg.Invitation.ID, "err", err)
		p.problem(w, http.StatusServiceUnavailable, l, shop, color, "error")
	}
}

func (p *Page) get(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	pg, err := p.app.Open(r.Context(), tok)
	if err != nil {
		p.fail(w, r, pg, err)
		return
	}
	if pg.Claims.Score != token.NoScore && r.Method == http.MethodGet {
		// One tap in the email: record the score, then ask for the
		// comment. A second tap on the same score changes nothing. A HEAD
		// (link checkers) records nothing.
		score := pg.Claims.Score
		pg, _, err = p.app.Respond(r.Context(), tok, invitation.Submission{Score: &score, Tap: true, Settle: p.app.TapSettle()})
		if errors.Is(err, invitation.ErrScanned) {
			// Taps on several scores at once: a scanner, not a person.
			// Nothing is recorded; the person chooses in the form.
			v := base(pg, tok)
			v.View, v.Error = "score", texts[lang(pg.Invitation.Locale)].Choose
			p.render(w, http.StatusOK, v)
			return
		}
		if err != nil {
			p.fail(w, r, pg, err)
			return
		}
		p.after(w, pg, tok, "")
		return
	}
	if a := pg.Invitation.Answer; a != nil && a.Changed {
		p.fail(w, r, pg, invitation.ErrUsed)
		return
	}
	v := base(pg, tok)
	v.View = "score"
	p.render(w, http.StatusOK, v)
}

// after shows the comment form after a score, or the thanks once the
// comment is in or not asked for.
func (p *Page) after(w http.ResponseWriter, pg app.Page, tok, errMsg string) {
	v := base(pg, tok)
	v.View = "thanks"
	if pg.Survey.CommentEnabled && (pg.Invitation.Answer.Comment == "" || errMsg != "") {
		v.View, v.Error = "comment", errMsg
	}
	p.render(w, http.StatusOK, v)
}

func (p *Page) post(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		l := acceptLanguage(r.Header.Get("Accept-Language"))
		if pg, oerr := p.app.Open(context.WithoutCancel(r.Context()), tok); oerr == nil {
			l = lang(pg.Invitation.Locale)
		}
		p.problem(w, http.StatusRequestEntityTooLarge, l, "", "", "big")
		return
	}
	var s invitation.Submission
	if v := r.PostForm.Get("score"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			n = -99 // not a number: out of every range
		}
		s.Score = &n
	}
	if _, ok := r.PostForm["comment"]; ok {
		c := strings.ReplaceAll(r.PostForm.Get("comment"), "\r\n", "\n")
		s.Comment = &c
	}
	pg, _, err := p.app.Respond(r.Context(), tok, s)
	var fe *survey.FieldError
	if errors.As(err, &fe) && fe.Field == "comment" && s.Comment != nil {
		// Too long: keep what was written and say so, nothing stored.
		l := lang(pg.Invitation.Locale)
		v := base(pg, tok)
		v.View, v.Comment = "comment", *s.Comment
		if s.Score != nil {
			v.Chosen, v.ChosenDigits = *s.Score, digits(l, *s.Score)
		}
		v.Error = tooLong(l, utf8.RuneCountInString(strings.TrimSpace(*s.Comment)), invitation.MaxComment)
		p.render(w, http.StatusUnprocessableEntity, v)
		return
	}
	if err != nil {
		p.fail(w, r, pg, err)
		return
	}
	if s.Comment != nil {
		v := base(pg, tok)
		v.View = "thanks"
		p.render(w, http.StatusOK, v)
		return
	}
	p.after(w, pg, tok, "")
}
