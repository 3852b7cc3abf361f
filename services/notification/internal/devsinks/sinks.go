// Package devsinks stands in, on a developer's machine, for the outside
// services notifications go to: a real SMTP server, a Kavenegar-like SMS
// gateway (with delivery reports) and a webhook receiver that checks
// signatures. Each prints what arrived, which is the point of the `make run`
// demo; none of it belongs in production.
package devsinks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Config says where the sinks listen and what they check.
type Config struct {
	SMTPAddr, SMSAddr, WebhookAddr string
	// SMSAPIKey is the key the gateway expects in its path.
	SMSAPIKey string
	// WebhookSecret checks Bazgasht-Signature.
	WebhookSecret string
	// DeliveryURL, when set, receives a delivery report (status 10) a
	// second after each SMS.
	DeliveryURL string
	// Out receives one line per arrival.
	Out io.Writer
}

// Run serves the three sinks until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(cfg.Out, time.Now().Format("15:04:05 ")+format+"\n", args...)
	}
	smtpSrv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{say: say}, nil }))
	smtpSrv.Addr, smtpSrv.Domain, smtpSrv.AllowInsecureAuth = cfg.SMTPAddr, "localhost", true
	sms := &http.Server{Addr: cfg.SMSAddr, Handler: gateway(cfg, say), ReadHeaderTimeout: 5 * time.Second}
	hook := &http.Server{Addr: cfg.WebhookAddr, Handler: receiver(cfg, say), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 3)
	go func() { errc <- smtpSrv.ListenAndServe() }()
	go func() { errc <- sms.ListenAndServe() }()
	go func() { errc <- hook.ListenAndServe() }()
	say("dev sinks: SMTP on %s, SMS gateway on %s, webhook on %s", cfg.SMTPAddr, cfg.SMSAddr, cfg.WebhookAddr)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	_ = smtpSrv.Close()
	_ = sms.Close()
	_ = hook.Close()
	return err
}

type session struct {
	say      func(string, ...any)
	from, to string
}

func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "bounce") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	s.to = to
	return nil
}
func (s *session) Data(r io.Reader) error {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	text := ""
	if _, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type")); err == nil && params["boundary"] != "" {
		mr := multipart.NewReader(msg.Body, params["boundary"])
		if p, err := mr.NextPart(); err == nil {
			b, _ := io.ReadAll(p)
			text = string(b)
		}
	}
	s.say("EMAIL to %s [%s] %q\n    %s\n    List-Unsubscribe: %s", s.to, msg.Header.Get("Content-Language"), subject,
		strings.ReplaceAll(strings.TrimSpace(text), "\n", "\n    "), msg.Header.Get("List-Unsubscribe"))
	return nil
}

// InboxSMS is one text message the gateway took, as GET /inbox lists it.
type InboxSMS struct {
	Receptor string    `json:"receptor"`
	Message  string    `json:"message"`
	At       time.Time `json:"at"`
}

func gateway(cfg Config, say func(string, ...any)) http.Handler {
	var mu sync.Mutex
	seen, next := map[string]int64{}, int64(100000)
	var inbox []InboxSMS
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet && r.URL.Path == "/inbox" {
			// What a phone would have received, for the demo to act on
			// (the customer taps the survey link in the SMS).
			mu.Lock()
			out := []InboxSMS{}
			for _, m := range inbox {
				if to := r.URL.Query().Get("receptor"); to == "" || to == m.Receptor {
					out = append(out, m)
				}
			}
			mu.Unlock()
			_ = json.NewEncoder(w).Encode(out)
			return
		}
		if r.URL.Path != "/v1/"+cfg.SMSAPIKey+"/sms/send.json" {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"return":{"status":403,"message":"invalid API key"},"entries":null}`)
			return
		}
		_ = r.ParseForm()
		to, text, local := r.FormValue("receptor"), r.FormValue("message"), r.FormValue("localid")
		if strings.HasPrefix(to, "+98900") {
			w.WriteHeader(411)
			_, _ = io.WriteString(w, `{"return":{"status":411,"message":"invalid receptor"},"entries":null}`)
			return
		}
		mu.Lock()
		id, dup := seen[local]
		if !dup {
			next++
			id, seen[local] = next, next
			inbox = append(inbox, InboxSMS{Receptor: to, Message: text, At: time.Now()})
		}
		mu.Unlock()
		if !dup {
			say("SMS to %s: %s", to, text)
			if cfg.DeliveryURL != "" {
				go func() {
					time.Sleep(time.Second)
					resp, err := http.PostForm(cfg.DeliveryURL, url.Values{"messageid": {fmt.Sprint(id)}, "status": {"10"}})
					if err == nil {
						resp.Body.Close()
					}
				}()
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"return": map[string]any{"status": 200, "message": "تایید شد"},
			"entries": []map[string]any{{"messageid": id, "status": 1, "statustext": "در صف ارسال", "receptor": to}}})
	})
}

func receiver(cfg Config, say func(string, ...any)) http.Handler {
	var mu sync.Mutex
	seen := map[string]bool{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var ts, v1 string
		for _, part := range strings.Split(r.Header.Get("Bazgasht-Signature"), ",") {
			if k, v, ok := strings.Cut(part, "="); ok && k == "t" {
				ts = v
			} else if ok && k == "v1" {
				v1 = v
			}
		}
		m := hmac.New(sha256.New, []byte(cfg.WebhookSecret))
		m.Write([]byte(ts + "."))
		m.Write(body)
		got, err := hex.DecodeString(v1)
		if err != nil || !hmac.Equal(got, m.Sum(nil)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		key := r.Header.Get("Idempotency-Key")
		mu.Lock()
		dup := seen[key]
		seen[key] = true
		mu.Unlock()
		if !dup {
			say("WEBHOOK %s", body)
		}
		w.WriteHeader(http.StatusOK)
	})
}
