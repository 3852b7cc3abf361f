package survey

import "slices"

// Defaults is the default set every tenant has without setup: the surveys
// the trigger service's default rule pack invites to. A tenant may change
// one by UpdateSurvey, which stores the tenant's own version 2.
func Defaults() []Definition {
	csatLabelsFa := []string{"خیلی ناراضی", "ناراضی", "نه راضی نه ناراضی", "راضی", "خیلی راضی"}
	csatLabelsEn := []string{"Very dissatisfied", "Dissatisfied", "Neither", "Satisfied", "Very satisfied"}
	commentFa, commentEn := "مهم‌ترین دلیل امتیازتان چیست؟", "What is the main reason for your score?"
	thanksFa, thanksEn := "از پاسخ شما سپاسگزاریم.", "Thank you for your answer."
	defs := []Definition{
		{ID: "nps", Name: "Net Promoter Score", Kind: NPS, CommentEnabled: true, Texts: []Text{
			{Locale: "fa", Question: "چقدر احتمال دارد ما را به دوستان یا همکاران خود پیشنهاد کنید؟", LowLabel: "اصلاً", HighLabel: "حتماً", CommentQuestion: commentFa, ThankYou: thanksFa},
			{Locale: "en", Question: "How likely are you to recommend us to a friend or colleague?", LowLabel: "Not at all likely", HighLabel: "Extremely likely", CommentQuestion: commentEn, ThankYou: thanksEn},
		}},
		{ID: "csat-delivery", Name: "CSAT after delivery", Kind: CSAT, CommentEnabled: true, Texts: []Text{
			{Locale: "fa", Question: "از تحویل سفارشتان چقدر راضی بودید؟", LowLabel: csatLabelsFa[0], HighLabel: csatLabelsFa[4], ScoreLabels: csatLabelsFa, CommentQuestion: commentFa, ThankYou: thanksFa},
			{Locale: "en", Question: "How satisfied were you with the delivery of your order?", LowLabel: csatLabelsEn[0], HighLabel: csatLabelsEn[4], ScoreLabels: csatLabelsEn, CommentQuestion: commentEn, ThankYou: thanksEn},
		}},
		{ID: "csat-support", Name: "CSAT after a support ticket", Kind: CSAT, CommentEnabled: true, Texts: []Text{
			{Locale: "fa", Question: "از پاسخگویی پشتیبانی چقدر راضی بودید؟", LowLabel: csatLabelsFa[0], HighLabel: csatLabelsFa[4], ScoreLabels: csatLabelsFa, CommentQuestion: commentFa, ThankYou: thanksFa},
			{Locale: "en", Question: "How satisfied were you with our support?", LowLabel: csatLabelsEn[0], HighLabel: csatLabelsEn[4], ScoreLabels: csatLabelsEn, CommentQuestion: commentEn, ThankYou: thanksEn},
		}},
		{ID: "ces-support", Name: "Customer effort after support", Kind: CES, CesForm: Agreement, CommentEnabled: true, Texts: []Text{
			{Locale: "fa", Question: "فروشگاه حل مشکل مرا برایم آسان کرد.", LowLabel: "کاملاً مخالفم", HighLabel: "کاملاً موافقم",
				ScoreLabels: []string{"کاملاً مخالفم", "مخالفم", "نظری ندارم", "موافقم", "کاملاً موافقم"}, CommentQuestion: commentFa, ThankYou: thanksFa},
			{Locale: "en", Question: "The shop made it easy for me to handle my issue.", LowLabel: "Strongly disagree", HighLabel: "Strongly agree",
				ScoreLabels: []string{"Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"}, CommentQuestion: commentEn, ThankYou: thanksEn},
		}},
	}
	for i := range defs {
		defs[i].Version = 1
		defs[i].Builtin = true
	}
	return defs
}

// Default returns the default definition with id, if there is one.
func Default(id string) (Definition, bool) {
	defs := Defaults()
	i := slices.IndexFunc(defs, func(d Definition) bool { return d.ID == id })
	if i < 0 {
		return Definition{}, false
	}
	return defs[i], true
}
