package ports

import (
	"context"
	"crypto/subtle"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"github.com/bazgasht/bazgasht/services/notification/internal/adapters"
	"github.com/bazgasht/bazgasht/services/notification/internal/app"
)

// HTTP serves the customer-facing and provider-facing endpoints:
//
//	GET  /unsubscribe/<token>   a page confirming the unsubscribe, with a button
//	POST /unsubscribe/<token>   the unsubscribe itself: the button, and RFC 8058
//	                            one-click (List-Unsubscribe=One-Click) from mail clients
//	POST /sms/delivery/<secret> an SMS gateway's delivery report (messageid, status)
type HTTP struct {
	links   *adapters.Links
	reports *app.Reports
	secret  string
	log     *slog.Logger
}

// NewHTTP checks its dependencies; an empty secret turns delivery reports
// off.
func NewHTTP(links *adapters.Links, reports *app.Reports, deliverySecret string, log *slog.Logger) (*HTTP, error) {
	if links == nil || reports == nil || log == nil {
		return nil, errors.New("ports: links, reports and a logger are required")
	}
	return &HTTP{links: links, reports: reports, secret: deliverySecret, log: log}, nil
}

// Handler is the HTTP handler.
func (h *HTTP) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+adapters.UnsubscribePath+"{token}", h.confirm)
	mux.HandleFunc("POST "+adapters.UnsubscribePath+"{token}", h.unsubscribe)
	mux.HandleFunc("POST /sms/delivery/{secret}", h.delivery)
	mux.HandleFunc("GET /sms/delivery/{secret}", h.delivery)
	return mux
}

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="fa" dir="rtl"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{{.Title}}</title></head>
<body style="font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem">
<h1>{{.Title}}</h1><p>{{.Text}}</p><p dir="ltr" lang="en">{{.English}}</p>
{{if .Action}}<form method="post" action="{{.Action}}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">لغو اشتراک / Unsubscribe</button></form>{{end}}
</body></html>`))

type pageData struct{ Title, Text, English, Action string }

func render(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Robots-Tag", "noindex")
	// The token is in the URL: nothing may carry it elsewhere.
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = page.Execute(w, d)
}

var badLink = pageData{Title: "پیوند نامعتبر", Text: "این پیوند معتبر نیست یا تغییر کرده است.", English: "This link is not valid."}

// confirm shows what the link will do; a GET changes nothing, because mail
// scanners open links on their own.
func (h *HTTP) confirm(w http.ResponseWriter, r *http.Request) {
	c, err := h.links.Verify(r.PathValue("token"))
	if err != nil {
		render(w, http.StatusBadRequest, badLink)
		return
	}
	// Nothing is done yet: the page asks, the button does it.
	render(w, http.StatusOK, pageData{Title: "لغو اشتراک", Text: "برای این‌که دیگر از این فروشگاه " + channelFa(string(c.Channel)) + " دریافت نکنید، دکمهٔ زیر را بزنید.",
		English: "To stop receiving " + string(c.Channel) + " messages from this shop, press the button below.", Action: r.URL.Path})
}

// channelFa names a channel's messages in Persian.
func channelFa(ch string) string {
	switch ch {
	case "email":
		return "ایمیل"
	case "sms":
		return "پیامک"
	}
	return "پیام " + ch
}

func (h *HTTP) unsubscribe(w http.ResponseWriter, r *http.Request) {
	c, err := h.links.Verify(r.PathValue("token"))
	if err != nil {
		render(w, http.StatusBadRequest, badLink)
		return
	}
	err = h.reports.Unsubscribe(r.Context(), c.Tenant, c.Customer, c.Channel)
	if err == nil && c.Address != "" {
		err = h.reports.Unsubscribe(r.Context(), c.Tenant, c.Address, c.Channel)
	}
	if err != nil {
		h.log.ErrorContext(r.Context(), "unsubscribe not recorded", "tenant", c.Tenant, "err", err)
		render(w, http.StatusServiceUnavailable, pageData{Title: "خطا", Text: "لطفاً دوباره تلاش کنید.", English: "Please try again in a moment."})
		return
	}
	render(w, http.StatusOK, pageData{Title: "اشتراک لغو شد", Text: "دیگر پیامی از این راه دریافت نمی‌کنید.", English: "You are unsubscribed."})
}

func (h *HTTP) delivery(w http.ResponseWriter, r *http.Request) {
	if h.secret == "" || subtle.ConstantTimeCompare([]byte(r.PathValue("secret")), []byte(h.secret)) != 1 {
		http.Error(w, "unknown callback", http.StatusNotFound)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "body: not a form", http.StatusBadRequest)
		return
	}
	id, st := strings.TrimSpace(r.FormValue("messageid")), strings.TrimSpace(r.FormValue("status"))
	if id == "" || st == "" {
		http.Error(w, "messageid and status are required", http.StatusBadRequest)
		return
	}
	status, detail := adapters.SMSDeliveryStatus(st)
	err := h.reports.Delivery(r.Context(), "sms-gateway", id, status, detail)
	switch {
	case errors.Is(err, app.ErrNotFound):
		http.Error(w, "messageid: unknown message", http.StatusNotFound)
	case errors.Is(err, context.Canceled):
	case errors.Is(err, app.ErrNotYet):
		http.Error(w, "the send is not recorded yet; send the report again", http.StatusServiceUnavailable)
	case err != nil:
		h.log.ErrorContext(r.Context(), "delivery report not recorded", "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
	default:
		w.WriteHeader(http.StatusOK)
	}
}
