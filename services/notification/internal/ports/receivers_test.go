package ports_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/bazgasht/bazgasht/services/notification/internal/adapters"
)

// mailbox is a real SMTP server (go-smtp) that keeps every message it
// accepts. Recipients starting with "bounce" are refused with 550, like a
// mailbox that does not exist.
type mailbox struct {
	srv  *smtp.Server
	addr string
	mu   sync.Mutex
	msgs []received
}

type received struct {
	From string
	To   []string
	Data []byte
}

func startMailbox(t testing.TB) *mailbox {
	t.Helper()
	m := &mailbox{}
	m.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{box: m}, nil }))
	m.srv.Domain = "localhost"
	m.srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.addr = ln.Addr().String()
	go func() { _ = m.srv.Serve(ln) }()
	t.Cleanup(func() { _ = m.srv.Close() })
	return m
}

func (m *mailbox) port() int {
	_, p, _ := net.SplitHostPort(m.addr)
	n, _ := strconv.Atoi(p)
	return n
}

func (m *mailbox) to(addr string) []received {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []received
	for _, x := range m.msgs {
		for _, r := range x.To {
			if r == addr {
				out = append(out, x)
			}
		}
	}
	return out
}

type smtpSession struct {
	box  *mailbox
	from string
	to   []string
}

func (s *smtpSession) Reset()        { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error { return nil }
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "bounce") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	s.to = append(s.to, to)
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, received{From: s.from, To: s.to, Data: b})
	s.box.mu.Unlock()
	return nil
}

// smsGateway is a local stand-in for a Kavenegar-like gateway: API key in
// the path, receptor and message in the form, a JSON answer; numbers
// starting with +98900 are invalid (status 411); a localid seen before
// returns the earlier message and sends nothing, as the real ones do.
type smsGateway struct {
	*httptest.Server
	key      string
	mu       sync.Mutex
	sent     []sms
	byLocal  map[string]int64
	repeats  int
	failNext atomic.Int32
	nextID   int64
}

type sms struct {
	ID       int64
	Receptor string
	Message  string
}

func startSMSGateway(t testing.TB) *smsGateway {
	t.Helper()
	g := &smsGateway{key: "test-api-key", byLocal: map[string]int64{}, nextID: 7000}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.Close)
	return g
}

func (g *smsGateway) answer(w http.ResponseWriter, status int, msg string, entries ...map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	if status != 200 {
		w.WriteHeader(status)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"return": map[string]any{"status": status, "message": msg}, "entries": entries})
}

func (g *smsGateway) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/"+g.key+"/sms/send.json" {
		g.answer(w, 403, "invalid API key")
		return
	}
	if g.failNext.Load() > 0 {
		g.failNext.Add(-1)
		g.answer(w, 502, "gateway busy")
		return
	}
	_ = r.ParseForm()
	receptor, message, local := r.FormValue("receptor"), r.FormValue("message"), r.FormValue("localid")
	if strings.HasPrefix(receptor, "+98900") {
		g.answer(w, 411, "receptor نامعتبر است")
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if id, ok := g.byLocal[local]; ok && local != "" {
		g.repeats++
		g.answer(w, 200, "تایید شد", map[string]any{"messageid": id, "status": 1, "statustext": "در صف ارسال"})
		return
	}
	g.nextID++
	g.byLocal[local] = g.nextID
	g.sent = append(g.sent, sms{ID: g.nextID, Receptor: receptor, Message: message})
	g.answer(w, 200, "تایید شد", map[string]any{"messageid": g.nextID, "status": 1, "statustext": "در صف ارسال", "receptor": receptor})
}

func (g *smsGateway) to(receptor string) []sms {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []sms
	for _, s := range g.sent {
		if s.Receptor == receptor {
			out = append(out, s)
		}
	}
	return out
}

func (g *smsGateway) count() (sent, repeats int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sent), g.repeats
}

// hookReceiver is a webhook receiver that checks the signature and keeps
// Idempotency-Key as a push provider would: a key seen before is answered
// 200 and not delivered again.
type hookReceiver struct {
	*httptest.Server
	secret []byte
	mu     sync.Mutex
	got    map[string]adapters.WebhookMessage // by idempotency key
	perID  map[string]int                     // deliveries per notification id
	repeat int
	bad    int
	// fail answers the next calls with these statuses, in order.
	fail []int
}

func startHookReceiver(t testing.TB, secret string) *hookReceiver {
	t.Helper()
	h := &hookReceiver{secret: []byte(secret), got: map[string]adapters.WebhookMessage{}, perID: map[string]int{}}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) verify(sig string, body []byte) error {
	var ts, v1 string
	for _, part := range strings.Split(sig, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	m := hmac.New(sha256.New, h.secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	want := m.Sum(nil)
	got, err := hex.DecodeString(v1)
	if ts == "" || err != nil || !hmac.Equal(got, want) {
		return errors.New("bad signature")
	}
	return nil
}

func (h *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.verify(r.Header.Get("Bazgasht-Signature"), body); err != nil {
		h.bad++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if len(h.fail) > 0 {
		st := h.fail[0]
		h.fail = h.fail[1:]
		w.WriteHeader(st)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if _, ok := h.got[key]; ok {
		h.repeat++
		fmt.Fprintf(w, `{"id":%q}`, key)
		return
	}
	var m adapters.WebhookMessage
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&m); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	h.got[key] = m
	h.perID[m.Tenant+"/"+m.NotificationID]++
	fmt.Fprintf(w, `{"id":%q}`, key)
}

// counts returns distinct messages delivered, notifications delivered more
// than once (on any key), and repeats the idempotency key caught.
func (h *hookReceiver) counts() (delivered, duplicated, repeats int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range h.perID {
		if n > 1 {
			duplicated++
		}
	}
	return len(h.got), duplicated, h.repeat
}

func (h *hookReceiver) failWith(statuses ...int) {
	h.mu.Lock()
	h.fail = append(h.fail, statuses...)
	h.mu.Unlock()
}

func (h *hookReceiver) messages(tenant string) []adapters.WebhookMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []adapters.WebhookMessage
	for _, m := range h.got {
		if m.Tenant == tenant {
			out = append(out, m)
		}
	}
	return out
}
