package ports_test

import (
	"strconv"
	"strings"
	"testing"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	notificationv1 "github.com/bazgasht/bazgasht/gen/cx/notification/v1"
)

// TestSurveyInvitationAsTheSurveyServiceSendsIt enqueues an invitation
// exactly as the survey service does and reads the email: in the language
// the survey's question is in (its locale variable beats the profile's),
// with one tappable link per score; the SMS version carries the page link.
func TestSurveyInvitationAsTheSurveyServiceSendsIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const tenant = "survey"
	c := e.customer(t, tenant, person{id: "parisa", email: "parisa@example.com", phone: "+989121236666", first: "Parisa", locale: "fa", preferred: email})
	vars := map[string]string{"survey_url": "https://s.example/r/tok", "survey_id": "csat-delivery", "survey_kind": "csat", "touchpoint": "order:o-9",
		"invitation_id": "inv-1", "question": "How satisfied are you with the delivery?", "shop_name": "Demo Shop", "scale_min": "1", "scale_max": "5", "locale": "en"}
	for n := 1; n <= 5; n++ {
		vars["score_url_"+strconv.Itoa(n)] = "https://s.example/r/tok?score=" + strconv.Itoa(n)
	}
	req := &notificationv1.SendRequest{Tenant: tenant, NotificationId: "survey:inv-1", Customer: c, TemplateId: "survey-invitation",
		Category: txn, Variables: vars}
	e.enqueue(t, req, tenant+":survey:inv-1")
	e.status(t, tenant, "survey:inv-1", notificationv1.Status_STATUS_SENT)
	mails := e.mail.to("parisa@example.com")
	if len(mails) != 1 {
		t.Fatalf("%d mails", len(mails))
	}
	msg, parts := parseMail(t, mails[0].Data)
	if msg.Header.Get("Content-Language") != "en" || !strings.Contains(parts[1].body, `<html lang="en" dir="ltr">`) {
		t.Fatalf("Content-Language %q; want the survey's en, left to right", msg.Header.Get("Content-Language"))
	}
	for n := 1; n <= 5; n++ {
		if !strings.Contains(parts[1].body, `href="https://s.example/r/tok?score=`+strconv.Itoa(n)+`"`) {
			t.Fatalf("no link for score %d:\n%s", n, parts[1].body)
		}
	}
	if !strings.Contains(parts[0].body, "How satisfied are you with the delivery?") || !strings.Contains(parts[0].body, "https://s.example/r/tok") {
		t.Fatalf("text part:\n%s", parts[0].body)
	}
	req.NotificationId, req.Channel = "survey:inv-2", journeyv1.Channel_CHANNEL_SMS
	e.enqueue(t, req, tenant+":survey:inv-2")
	e.status(t, tenant, "survey:inv-2", notificationv1.Status_STATUS_SENT)
	got := e.sms.to("+989121236666")
	if len(got) != 1 || got[0].Message != "Demo Shop: How satisfied are you with the delivery? https://s.example/r/tok" {
		t.Fatalf("sms %+v", got)
	}
}
