package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	profilev1 "github.com/bazgasht/bazgasht/gen/cx/profile/v1"
)

// surveyLink finds a survey response link in a text message.
var surveyLink = regexp.MustCompile(`https?://\S+/s/[A-Za-z0-9_\-.]+`)

// answerSurvey plays Sara's phone: it reads the SMS the gateway stand-in
// took for her, opens the support survey's signed link, taps a score and
// writes a comment, as she would on the response page; then it shows the
// answer on her profile.
func answerSurvey(inboxURL, phone, profileAddr string, score int, comment string) error {
	fmt.Println("\n── Sara answers the support survey from the SMS on her phone ──")
	link, text, err := waitForSurveySMS(inboxURL, phone, "پشتیبانی", 20*time.Second)
	if err != nil {
		return err
	}
	fmt.Printf("   her SMS:   %s\n", text)
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(link)
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("   GET the link → %d, a %d-byte page (dir=rtl: %v, no JavaScript: %v)\n", resp.StatusCode, len(page),
		strings.Contains(string(page), `dir="rtl"`), !strings.Contains(string(page), "<script"))
	for _, form := range []url.Values{{"score": {fmt.Sprint(score)}}, {"comment": {comment}}} {
		resp, err := client.PostForm(link, form)
		if err != nil {
			return err
		}
		resp.Body.Close()
		what := "taps " + fmt.Sprint(score)
		if form.Has("comment") {
			what = "writes “" + comment + "”"
		}
		fmt.Printf("   she %s → %d\n", what, resp.StatusCode)
	}

	conn, err := grpc.NewClient(profileAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		r, err := profilev1.NewProfileServiceClient(conn).GetProfile(ctx, &profilev1.GetProfileRequest{Tenant: "demo",
			Customer: &profilev1.CustomerRef{Ref: &profilev1.CustomerRef_Identity{Identity: &journeyv1.Customer{Phone: phone}}}})
		if c := r.GetProfile().GetFeedback().GetLastCsat(); err == nil && c.GetSurveyId() == "csat-support" {
			fmt.Printf("   her profile now shows: last CSAT %d on %s (survey %s)\n", c.GetScore(), c.GetTouchpoint(), c.GetSurveyId())
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("the answer did not reach the profile: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitForSurveySMS polls the SMS gateway stand-in's inbox for a message to
// phone that holds a survey link and contains about.
func waitForSurveySMS(inboxURL, phone, about string, d time.Duration) (link, text string, err error) {
	deadline := time.Now().Add(d)
	for {
		resp, err := http.Get(inboxURL + "?receptor=" + url.QueryEscape(phone))
		if err == nil {
			var inbox []struct{ Message string }
			derr := json.NewDecoder(resp.Body).Decode(&inbox)
			resp.Body.Close()
			for _, m := range inbox {
				if l := surveyLink.FindString(m.Message); derr == nil && l != "" && strings.Contains(m.Message, about) {
					return l, m.Message, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return "", "", fmt.Errorf("no survey SMS reached %s within %v (%v)", phone, d, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
