package ports_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	surveyv1 "github.com/bazgasht/bazgasht/gen/cx/survey/v1"
	"github.com/bazgasht/bazgasht/services/survey/internal/domain/token"
)

// invite makes an invitation for a fresh customer and returns its
// template variables.
func invite(t *testing.T, e *env, customerID, locale, surveyID string) (string, map[string]string) {
	t.Helper()
	e.customer(t, "demo", customerID, customerID+"@example.com", "", locale)
	r, err := e.client.Invite(context.Background(), &surveyv1.InviteRequest{Tenant: "demo", SurveyId: surveyID,
		Customer: &journeyv1.Customer{CustomerId: customerID}, Touchpoint: "order:" + customerID, Transactional: true})
	if err != nil {
		t.Fatal(err)
	}
	id := r.GetInvitation().GetInvitationId()
	for _, s := range e.sendRequests(t, "demo") {
		if s.GetVariables()["invitation_id"] == id {
			return id, s.GetVariables()
		}
	}
	t.Fatal("no SendRequest for the invitation")
	return "", nil
}

func TestResponsePage(t *testing.T) {
	e := newEnv(t)
	_, fa := invite(t, e, "c-fa", "fa", "nps")
	_, en := invite(t, e, "c-en", "en", "csat-delivery")

	t.Run("fa is right-to-left with Persian digits and no script", func(t *testing.T) {
		code, body := pageGet(t, fa["survey_url"], "")
		for _, want := range []string{`<html lang="fa" dir="rtl">`, "Demo Shop", "<fieldset>", "<legend>", ">۰<", ">۱۰<", `name="score" value="10"`, ":focus-visible"} {
			if !strings.Contains(body, want) {
				t.Errorf("fa page lacks %q", want)
			}
		}
		if code != 200 || strings.Contains(body, "<script") || strings.Contains(body, "<link") || len(body) > 8<<10 {
			t.Fatalf("fa page = %d, %d bytes", code, len(body))
		}
	})
	t.Run("en is left-to-right with labels", func(t *testing.T) {
		code, body := pageGet(t, en["survey_url"], "")
		for _, want := range []string{`<html lang="en" dir="ltr">`, `aria-label="5 – Very satisfied"`, ">1<", ">5<", "How satisfied were you with the delivery"} {
			if !strings.Contains(body, want) {
				t.Errorf("en page lacks %q", want)
			}
		}
		if code != 200 || strings.Contains(body, ">0<") {
			t.Fatalf("en page = %d", code)
		}
	})
	t.Run("tampered link gets a clear page in the browser's language", func(t *testing.T) {
		tok := strings.TrimPrefix(en["score_url_5"], e.page.URL+"/s/")
		p, sig, _ := strings.Cut(tok, ".")
		forged := e.page.URL + "/s/" + p[:len(p)-2] + "AA." + sig
		code, body := pageGet(t, forged, "en-US,en;q=0.9")
		if code != 404 || !strings.Contains(body, "This link is not valid") || strings.Contains(body, "goroutine") {
			t.Fatalf("tampered = %d\n%s", code, body)
		}
		code, body = pageGet(t, e.page.URL+"/s/garbage", "fa-IR")
		if code != 404 || !strings.Contains(body, "این پیوند معتبر نیست") || !strings.Contains(body, `dir="rtl"`) {
			t.Fatalf("garbage = %d\n%s", code, body)
		}
	})
	t.Run("a link signed for another tenant finds nothing", func(t *testing.T) {
		s, _ := token.NewSigner(mustHex(testKey))
		tok := s.Sign(token.Claims{Tenant: "shop2", InvitationID: fa["invitation_id"], Expires: time.Now().Add(time.Hour), Score: 9})
		if code, _ := pageGet(t, e.page.URL+"/s/"+tok, "en"); code != 404 {
			t.Fatalf("another tenant's link = %d", code)
		}
	})
	t.Run("another method is 405 with Allow", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPut, en["survey_url"], strings.NewReader("score=5"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD, POST" {
			t.Fatalf("PUT = %d, Allow %q; want 405 and GET, HEAD, POST", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
	t.Run("out-of-range score is refused, nothing stored", func(t *testing.T) {
		code, body := pagePost(t, en["survey_url"], map[string]string{"score": "7"})
		if code != 400 || !strings.Contains(body, "not on this survey") || strings.Contains(body, "link is not valid") {
			t.Fatalf("score 7 on CSAT = %d\n%s", code, body)
		}
		g, _ := e.client.GetInvitation(context.Background(), &surveyv1.GetInvitationRequest{Tenant: "demo", InvitationId: en["invitation_id"]})
		if g.GetInvitation().GetAnswer() != nil {
			t.Fatalf("a refused score was stored: %v", g)
		}
	})
	t.Run("an oversized comment is refused with the count, nothing stored", func(t *testing.T) {
		long := strings.Repeat("خوب ", 600)
		code, body := pagePost(t, fa["survey_url"], map[string]string{"score": "8", "comment": long})
		if code != 422 || !strings.Contains(body, "۲۳۹۹") || !strings.Contains(body, "۲۰۰۰") || !strings.Contains(body, `role="alert"`) {
			t.Fatalf("long comment = %d\n%s", code, body)
		}
		g, _ := e.client.GetInvitation(context.Background(), &surveyv1.GetInvitationRequest{Tenant: "demo", InvitationId: fa["invitation_id"]})
		if g.GetInvitation().GetAnswer() != nil {
			t.Fatalf("half an answer was stored: %v", g.GetInvitation().GetAnswer())
		}
	})
	t.Run("a HEAD of a one-tap link (a link checker) records nothing", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodHead, en["score_url_2"], nil)
		if code, _ := do(t, req); code != 200 {
			t.Fatalf("HEAD = %d", code)
		}
		g, _ := e.client.GetInvitation(context.Background(), &surveyv1.GetInvitationRequest{Tenant: "demo", InvitationId: en["invitation_id"]})
		if g.GetInvitation().GetAnswer() != nil {
			t.Fatalf("a HEAD recorded an answer: %v", g.GetInvitation().GetAnswer())
		}
	})
	t.Run("an oversized form is refused", func(t *testing.T) {
		code, body := pagePost(t, en["survey_url"], map[string]string{"score": "5", "comment": strings.Repeat("x", 70<<10)})
		if code != 413 || !strings.Contains(body, "too large") {
			t.Fatalf("huge form = %d\n%s", code, body)
		}
	})
	t.Run("expired link", func(t *testing.T) {
		e.clock.advance(31 * 24 * time.Hour)
		defer e.clock.advance(-31 * 24 * time.Hour)
		code, body := pageGet(t, fa["score_url_9"], "en")
		if code != 410 || !strings.Contains(body, "مهلت این نظرسنجی تمام شده است") {
			t.Fatalf("expired = %d\n%s", code, body)
		}
		g, err := e.client.GetInvitation(context.Background(), &surveyv1.GetInvitationRequest{Tenant: "demo", InvitationId: fa["invitation_id"]})
		if err != nil || g.GetInvitation().GetStatus() != surveyv1.InvitationStatus_INVITATION_STATUS_EXPIRED {
			t.Fatalf("expired invitation = %v, %v", g, err)
		}
	})
}

func mustHex(s string) []byte {
	k, err := token.ParseKey(s)
	if err != nil {
		panic(err)
	}
	return k
}
