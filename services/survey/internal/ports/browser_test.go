package ports_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	surveyv1 "github.com/bazgasht/bazgasht/gen/cx/survey/v1"
	"github.com/bazgasht/bazgasht/platform/poll"
)

// chromiumPath is Debian's Chromium, or $CHROMIUM.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		// Never a skip: a missing browser would otherwise pass CI silently.
		t.Fatalf("Chromium is not installed at %s: run scripts/ensure-chromium.sh (make test does) or set CHROMIUM", p)
	}
	return p
}

// browser starts a fresh headless Chromium for one test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(600, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// screenshotDir is where the page's screenshots are kept as test
// artefacts; testdata/screenshots/.gitignore keeps them out of git.
const screenshotDir = "testdata/screenshots"

func screenshot(t *testing.T, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		buf, err := chromedp.CaptureScreenshot()(ctx, tg) // the viewport, PNG; the page fits in it
		if err != nil {
			return err
		}
		p := filepath.Join(screenshotDir, name)
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			return err
		}
		abs, _ := filepath.Abs(p)
		t.Logf("screenshot: %s", abs)
		return nil
	})
}

// read runs a value action, failing the test on error.
func read[T any](t *testing.T, b context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(b, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func steps(t *testing.T, b context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b, steps...); err != nil {
		t.Fatal(err)
	}
}

func TestResponsePageInChromium(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	answer := func(id string) *surveyv1.Answer {
		g, err := e.client.GetInvitation(ctx, &surveyv1.GetInvitationRequest{Tenant: "demo", InvitationId: id})
		if err != nil {
			t.Fatal(err)
		}
		return g.GetInvitation().GetAnswer()
	}

	t.Run("fa: tap a score, then leave a comment", func(t *testing.T) {
		id, v := invite(t, e, "c-browser-fa", "fa", "nps")
		b := browser(t)
		steps(t, b, chromedp.Navigate(v["survey_url"]), chromedp.WaitVisible(chromedp.CSS(`button[value="9"]`)), screenshot(t, "fa-question.png"))
		dir := read(t, b, chromedp.Evaluate[string](`document.documentElement.dir`))
		lang := read(t, b, chromedp.Evaluate[string](`document.documentElement.lang`))
		buttons := read(t, b, chromedp.Text(chromedp.CSS(`.scale`)))
		if dir != "rtl" || lang != "fa" || !strings.Contains(buttons, "۱۰") || !strings.Contains(buttons, "۹") || strings.ContainsAny(buttons, "0123456789") {
			t.Fatalf("fa page: dir %q lang %q buttons %q", dir, lang, buttons)
		}
		// Keyboard users reach the scale and see where they are.
		steps(t, b, chromedp.Focus(chromedp.CSS(`button[value="0"]`)))
		if focused := read(t, b, chromedp.Evaluate[string](`document.activeElement.tagName + ":" + document.activeElement.value`)); focused != "BUTTON:0" {
			t.Fatalf("focus = %q", focused)
		}
		steps(t, b, chromedp.Click(chromedp.CSS(`button[value="9"]`)), chromedp.WaitVisible(chromedp.ID("comment")), screenshot(t, "fa-comment.png"))
		if chosen := read(t, b, chromedp.Text(chromedp.ID("chosen-score"))); chosen != "۹" {
			t.Fatalf("chosen score shown as %q", chosen)
		}
		if a := answer(id); a.GetScore() != 9 {
			t.Fatalf("stored answer after the tap = %v", a)
		}
		poll.Until(t, 5*time.Second, "survey.responded for the tap", func() bool {
			for _, ev := range e.journey(t, "demo", "survey.responded") {
				if ev.GetId() == id+":answer:1" && ev.GetSurveyResponded().GetScore() == 9 {
					return true
				}
			}
			return false
		})
		comment := "ارسال سریع بود <b>ممنون</b>"
		steps(t, b, chromedp.SendKeys(chromedp.ID("comment"), comment), chromedp.Click(chromedp.CSS(`button.send`)),
			chromedp.WaitVisible(chromedp.ID("thanks")), screenshot(t, "fa-thanks.png"))
		if shown := read(t, b, chromedp.Text(chromedp.ID("your-comment"))); shown != comment {
			t.Fatalf("comment shown as %q, want the text as typed, markup escaped", shown)
		}
		if a := answer(id); a.GetComment() != comment || a.GetScore() != 9 || a.GetSentiment() != surveyv1.Sentiment_SENTIMENT_POSITIVE {
			t.Fatalf("stored answer after the comment = %v", a)
		}
	})

	t.Run("en: left-to-right, Latin digits", func(t *testing.T) {
		id, v := invite(t, e, "c-browser-en", "en", "csat-delivery")
		b := browser(t)
		steps(t, b, chromedp.Navigate(v["survey_url"]), chromedp.WaitVisible(chromedp.CSS(`button[value="5"]`)), screenshot(t, "en-question.png"))
		dir := read(t, b, chromedp.Evaluate[string](`document.documentElement.dir`))
		buttons := read(t, b, chromedp.Text(chromedp.CSS(`.scale`)))
		steps(t, b, chromedp.Click(chromedp.CSS(`button[value="4"]`)), chromedp.WaitVisible(chromedp.ID("comment")),
			chromedp.Click(chromedp.CSS(`button.send`)), // no comment: fine
			chromedp.WaitVisible(chromedp.ID("thanks")), screenshot(t, "en-thanks.png"))
		thanks := read(t, b, chromedp.Text(chromedp.ID("thanks")))
		if dir != "ltr" || !strings.Contains(buttons, "5") || strings.Contains(buttons, "۵") || thanks != "Thank you for your answer." {
			t.Fatalf("en page: dir %q buttons %q thanks %q", dir, buttons, thanks)
		}
		if a := answer(id); a.GetScore() != 4 {
			t.Fatalf("stored answer = %v", a)
		}
	})
}
