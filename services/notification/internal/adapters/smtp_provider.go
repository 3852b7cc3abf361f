package adapters

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/bazgasht/bazgasht/services/notification/internal/app"
)

// SMTPConfig is how the SMTP provider reaches its server.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	// TLS is "none", "opportunistic" (STARTTLS when offered) or
	// "mandatory".
	TLS     string
	From    string
	Timeout time.Duration
	// MessageIDDomain is the right side of Message-ID headers; the From
	// address's domain when empty.
	MessageIDDomain string
}

// SMTPProvider sends email: multipart/alternative, plain text and HTML,
// the HTML right-to-left for Persian, with RFC 8058 one-click unsubscribe
// headers. A 5xx answer (a bounced address) is permanent, a 4xx or a lost
// connection transient. SMTP has no idempotency key, so a call of unknown
// outcome is never repeated.
type SMTPProvider struct {
	cfg SMTPConfig
}

var _ app.Provider = (*SMTPProvider)(nil)

// NewSMTPProvider checks the configuration.
func NewSMTPProvider(cfg SMTPConfig) (*SMTPProvider, error) {
	if cfg.Host == "" || cfg.Port <= 0 || cfg.From == "" || cfg.Timeout <= 0 {
		return nil, errors.New("smtp: host, port, from address and timeout are required")
	}
	switch cfg.TLS {
	case "none", "opportunistic", "mandatory":
	default:
		return nil, fmt.Errorf("smtp: TLS %q is not none, opportunistic or mandatory", cfg.TLS)
	}
	if cfg.MessageIDDomain == "" {
		// the sender's own domain, as mail servers expect of a Message-ID
		cfg.MessageIDDomain = "bazgasht.local"
		if a, err := netmail.ParseAddress(cfg.From); err == nil {
			if _, domain, ok := strings.Cut(a.Address, "@"); ok && domain != "" {
				cfg.MessageIDDomain = domain
			}
		}
	}
	return &SMTPProvider{cfg: cfg}, nil
}

// Name implements app.Provider.
func (s *SMTPProvider) Name() string { return "smtp" }

// ReportsDelivery implements app.Provider: no delivery reports.
func (s *SMTPProvider) ReportsDelivery() bool { return false }

// Idempotent implements app.Provider.
func (s *SMTPProvider) Idempotent() bool { return false }

// rtl reports whether a locale is written right to left.
func rtl(locale string) bool {
	lang, _, _ := strings.Cut(strings.ToLower(locale), "-")
	switch lang {
	case "fa", "ar", "he", "ur", "ckb":
		return true
	}
	return false
}

// HTMLDocument wraps a rendered HTML body in a document with the language
// and direction set, so mail clients lay Persian out right to left.
func HTMLDocument(locale, subject, body string) string {
	dir := "ltr"
	if rtl(locale) {
		dir = "rtl"
	}
	lang := html.EscapeString(locale)
	return `<!DOCTYPE html><html lang="` + lang + `" dir="` + dir + `"><head><meta charset="utf-8"><title>` + html.EscapeString(subject) +
		`</title></head><body dir="` + dir + `" style="direction:` + dir + `;text-align:` + map[string]string{"rtl": "right", "ltr": "left"}[dir] + `">` + body + `</body></html>`
}

// Send implements app.Provider.
func (s *SMTPProvider) Send(ctx context.Context, msg app.Message) (app.Receipt, error) {
	m := mail.NewMsg()
	if err := m.From(s.cfg.From); err != nil {
		return app.Receipt{}, &app.ProviderError{Permanent: true, Detail: "smtp: bad from address"}
	}
	if err := m.To(msg.To); err != nil {
		return app.Receipt{}, &app.ProviderError{Permanent: true, Detail: "invalid email address"}
	}
	m.Subject(msg.Content.Subject)
	sum := sha256.Sum256([]byte(msg.IdempotencyKey))
	id := hex.EncodeToString(sum[:16])
	m.SetMessageIDWithValue(id + "@" + s.cfg.MessageIDDomain)
	m.SetDate()
	if msg.Content.Locale != "" {
		m.SetGenHeader(mail.HeaderContentLang, msg.Content.Locale)
	}
	if msg.UnsubscribeURL != "" {
		if strings.HasPrefix(msg.UnsubscribeURL, "https://") {
			if err := m.SetListUnsubscribeOneClick(msg.UnsubscribeURL); err != nil {
				return app.Receipt{}, &app.ProviderError{Permanent: true, Detail: "smtp: " + err.Error()}
			}
		} else { // a development set-up without TLS
			m.SetListUnsubscribe(msg.UnsubscribeURL)
			m.SetListUnsubscribePost()
		}
	}
	m.SetBodyString(mail.TypeTextPlain, msg.Content.Text)
	if msg.Content.HTML != "" {
		m.AddAlternativeString(mail.TypeTextHTML, HTMLDocument(msg.Content.Locale, msg.Content.Subject, msg.Content.HTML))
	}
	opts := []mail.Option{mail.WithPort(s.cfg.Port), mail.WithTimeout(s.cfg.Timeout)}
	switch s.cfg.TLS {
	case "none":
		opts = append(opts, mail.WithTLSPortPolicy(mail.NoTLS))
	case "opportunistic":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if s.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(s.cfg.Username), mail.WithPassword(s.cfg.Password))
	}
	opts = append(opts, mail.WithPort(s.cfg.Port))
	c, err := mail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return app.Receipt{}, &app.ProviderError{Permanent: true, Detail: "smtp: " + err.Error()}
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		var se *mail.SendError
		if errors.As(err, &se) && !se.IsTemp() && se.Reason == mail.ErrSMTPRcptTo {
			return app.Receipt{}, &app.ProviderError{Permanent: true, Detail: "address refused: " + smtpAnswer(se)}
		}
		if errors.As(err, &se) && se.ErrorCode() == 0 && se.Reason == mail.ErrSMTPDataClose {
			// The message was written to its end and no answer came: the
			// server may have queued it.
			return app.Receipt{}, &app.ProviderError{Unknown: true, Detail: "smtp: " + smtpAnswer(se) + " without the server's answer"}
		}
		if errors.As(err, &se) && !se.IsTemp() && (se.Reason == mail.ErrSMTPData || se.Reason == mail.ErrSMTPDataClose || se.Reason == mail.ErrSMTPMailFrom) {
			return app.Receipt{}, &app.ProviderError{Permanent: true, Detail: "message refused: " + smtpAnswer(se)}
		}
		return app.Receipt{}, fmt.Errorf("smtp: %s", smtpAnswer(err))
	}
	return app.Receipt{MessageID: id, Detail: "250 accepted"}, nil
}

// smtpAnswer is an SMTP error without the recipient's address.
func smtpAnswer(err error) string {
	var se *mail.SendError
	if errors.As(err, &se) {
		if code := se.ErrorCode(); code > 0 {
			return fmt.Sprintf("%d %s", code, se.EnhancedStatusCode())
		}
		return se.Reason.String()
	}
	return err.Error()
}
