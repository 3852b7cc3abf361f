package adapters

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bazgasht/bazgasht/services/notification/internal/app"
)

// SMSGateway sends text messages through an HTTP gateway shaped like the
// common Iranian ones (Kavenegar and its kin):
//
//	POST <base>/v1/<api key>/sms/send.json
//	receptor=<number>&message=<text>&sender=<line>&localid=<idempotency key>
//
// answered with {"return":{"status":200,"message":"..."},"entries":[{"messageid":..,"status":..}]}.
// The gateway refuses a localid it has seen and returns the earlier
// message instead, which makes a repeated call safe. Status 411 (invalid
// receptor), 400, 401, 403, 412, 414, 417, 422, 424, 426 and 428 are
// permanent; 418 (no credit), 429, 5xx and network errors are transient.
type SMSGateway struct {
	base, key, sender string
	client            *http.Client
}

var _ app.Provider = (*SMSGateway)(nil)

// NewSMSGateway sends through the gateway at base with the API key.
func NewSMSGateway(base, key, sender string, timeout time.Duration) (*SMSGateway, error) {
	if base == "" || key == "" {
		return nil, errors.New("sms gateway: a URL and an API key are required")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	// No otelhttp transport here: its spans record the full URL, and the
	// URL holds the API key.
	return &SMSGateway{base: strings.TrimRight(base, "/"), key: key, sender: sender,
		client: &http.Client{Timeout: timeout, Transport: tr}}, nil
}

// Name implements app.Provider.
func (g *SMSGateway) Name() string { return "sms-gateway" }

// ReportsDelivery implements app.Provider: the gateway posts delivery reports to /sms/delivery.
func (g *SMSGateway) ReportsDelivery() bool { return true }

// Idempotent implements app.Provider: the gateway deduplicates by localid.
func (g *SMSGateway) Idempotent() bool { return true }

// SMSLocalID is the localid sent for an idempotency key. Kavenegar and its
// kin take a number there (a 64-bit integer, the sender's own message id),
// so it is the first 63 bits of the key's SHA-256 in decimal: digits only,
// at most 19 of them, the same for the same key on every retry.
func SMSLocalID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return strconv.FormatUint(binary.BigEndian.Uint64(sum[:8])>>1, 10)
}

// smsAnswer is the gateway's JSON answer.
type smsAnswer struct {
	Return struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
	} `json:"return"`
	Entries []struct {
		MessageID  int64  `json:"messageid"`
		Status     int    `json:"status"`
		StatusText string `json:"statustext"`
	} `json:"entries"`
}

var smsPermanent = map[int]string{400: "incomplete parameters", 401: "account disabled", 403: "invalid API key", 411: "invalid number",
	412: "invalid sender line", 414: "too many receptors", 417: "invalid date", 422: "invalid characters", 424: "template not found",
	426: "method needs a premium account", 428: "code-call needs digits"}

// Send implements app.Provider.
func (g *SMSGateway) Send(ctx context.Context, msg app.Message) (app.Receipt, error) {
	form := url.Values{"receptor": {msg.To}, "message": {msg.Content.Text}, "localid": {SMSLocalID(msg.IdempotencyKey)}}
	if g.sender != "" {
		form.Set("sender", g.sender)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.base+"/v1/"+url.PathEscape(g.key)+"/sms/send.json", strings.NewReader(form.Encode()))
	if err != nil {
		return app.Receipt{}, &app.ProviderError{Permanent: true, Detail: "sms gateway: bad URL"}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := g.client.Do(req)
	if err != nil {
		// the error names the URL, which holds the API key: keep it out
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return app.Receipt{}, fmt.Errorf("sms gateway: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var ans smsAnswer
	if err := json.Unmarshal(body, &ans); err != nil || ans.Return.Status == 0 {
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return app.Receipt{}, &app.ProviderError{Detail: fmt.Sprintf("sms gateway: HTTP %d", resp.StatusCode)}
		}
		return app.Receipt{}, &app.ProviderError{Detail: fmt.Sprintf("sms gateway: HTTP %d, unreadable answer", resp.StatusCode)}
	}
	st := ans.Return.Status
	switch {
	case st == 200 && len(ans.Entries) > 0:
		e := ans.Entries[0]
		return app.Receipt{MessageID: strconv.FormatInt(e.MessageID, 10), Detail: fmt.Sprintf("status %d %s", e.Status, e.StatusText)}, nil
	case smsPermanent[st] != "":
		return app.Receipt{}, &app.ProviderError{Permanent: true, Detail: smsPermanent[st]}
	default:
		return app.Receipt{}, &app.ProviderError{Detail: fmt.Sprintf("sms gateway: status %d", st)}
	}
}

// SMSDeliveryStatus reads a gateway delivery report's status: 10 delivered;
// 11 undeliverable, 6 failed, 14 blocked by the recipient, 100 unknown id;
// anything else still in transit.
func SMSDeliveryStatus(status string) (app.DeliveryStatus, string) {
	switch status {
	case "10":
		return app.DeliveredOK, "delivered"
	case "11":
		return app.Undeliverable, "undeliverable"
	case "6":
		return app.Undeliverable, "failed at the operator"
	case "14":
		return app.Undeliverable, "blocked by the recipient"
	case "100":
		return app.Undeliverable, "unknown message"
	}
	return app.StillSending, ""
}
