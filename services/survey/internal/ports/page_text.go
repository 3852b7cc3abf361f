package ports

import (
	"fmt"
	"strconv"
	"strings"
)

// pageText is the response page's own wording in one language.
type pageText struct {
	Title, Recorded, YourScore, YourComment, Optional, Send, Limit                   string
	InvalidTitle, Invalid, ExpiredTitle, Expired, UsedTitle, Used, ErrorTitle, Error string
	BadScoreTitle, BadScore, TooLong, TooBig                                         string
	// Choose asks for the score again after a burst of taps (a mail scanner).
	Choose string
}

var texts = map[string]pageText{
	"fa": {
		Title: "نظرسنجی", Recorded: "امتیاز شما ثبت شد. سپاسگزاریم!", YourScore: "امتیاز شما", YourComment: "نظر شما",
		Optional: "(اختیاری)", Send: "ارسال", Limit: "حداکثر ۲۰۰۰ نویسه.",
		InvalidTitle: "این پیوند معتبر نیست", Invalid: "پیوند ناقص است یا تغییر کرده است. لطفاً از پیوندی که در ایمیل یا پیامک دریافت کرده‌اید استفاده کنید.",
		ExpiredTitle: "مهلت این نظرسنجی تمام شده است", Expired: "متأسفانه دیگر نمی‌توان به این نظرسنجی پاسخ داد. از وقتی که گذاشتید سپاسگزاریم.",
		UsedTitle: "پاسخ شما قبلاً ثبت شده است", Used: "پاسخ شما ثبت شده و یک بار هم ویرایش شده است؛ تغییر دیگری پذیرفته نمی‌شود.",
		ErrorTitle: "مشکلی پیش آمد", Error: "پاسخ شما ثبت نشد. لطفاً چند لحظه بعد دوباره امتحان کنید.",
		Choose:        "چند امتیاز با هم انتخاب شد؛ لطفاً امتیاز خود را اینجا انتخاب کنید.",
		BadScoreTitle: "امتیاز را از بازهٔ نظرسنجی انتخاب کنید", BadScore: "این امتیاز در بازهٔ این نظرسنجی نیست.", TooLong: "نظر شما %s نویسه است؛ حداکثر %s نویسه پذیرفته می‌شود. لطفاً کوتاه‌ترش کنید.",
		TooBig: "فرم ارسالی بیش از حد بزرگ است.",
	},
	"en": {
		Title: "Survey", Recorded: "Your score is recorded. Thank you!", YourScore: "Your score", YourComment: "Your comment",
		Optional: "(optional)", Send: "Send", Limit: "At most 2,000 characters.",
		InvalidTitle: "This link is not valid", Invalid: "The link is incomplete or was changed. Please use the link from your email or text message.",
		ExpiredTitle: "This survey has closed", Expired: "Sorry, this survey can no longer be answered. Thank you for your time.",
		UsedTitle: "Your answer is already recorded", Used: "Your answer was recorded and changed once already; no further change is taken.",
		ErrorTitle: "Something went wrong", Error: "Your answer was not recorded. Please try again in a moment.",
		Choose:        "Several scores were chosen at once; please choose yours here.",
		BadScoreTitle: "Choose a score on the survey's scale", BadScore: "That score is not on this survey's scale.", TooLong: "Your comment is %s characters; at most %s are taken. Please shorten it.",
		TooBig: "The form sent is too large.",
	},
}

// lang picks "fa" or "en" for a locale; Persian unless English is asked.
func lang(locale string) string {
	if strings.HasPrefix(strings.ToLower(locale), "en") {
		return "en"
	}
	return "fa"
}

// acceptLanguage picks the page language from the browser's
// Accept-Language when there is no invitation to go by.
func acceptLanguage(h string) string {
	for _, part := range strings.Split(h, ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "fa"):
			return "fa"
		case strings.HasPrefix(tag, "en"):
			return "en"
		}
	}
	return "fa"
}

// digits writes n in the digits of the language: ۰–۹ for Persian.
func digits(l string, n int) string {
	s := strconv.Itoa(n)
	if l != "fa" {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			r = '۰' + (r - '0')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func tooLong(l string, n, limit int) string {
	return fmt.Sprintf(texts[l].TooLong, digits(l, n), digits(l, limit))
}
