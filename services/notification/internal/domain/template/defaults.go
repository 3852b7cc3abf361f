package template

import "github.com/bazgasht/bazgasht/services/notification/internal/domain/notification"

// Defaults are the templates shipped with Bazgasht, available to every
// tenant at version 1 until the tenant stores its own version: the survey
// invitation the survey service sends and one for every notification of the
// trigger service's default rule pack.
func Defaults() []Template {
	email, sms := notification.Email, notification.SMS
	greetFa := `{{with .Profile.first_name}}{{.}} عزیز{{else}}مشتری گرامی{{end}}`
	greetEn := `{{with .Profile.first_name}}Hi {{.}}{{else}}Hello{{end}}`
	footFa := `{{with .UnsubscribeURL}}<p style="font-size:12px;color:#777"><a href="{{.}}">لغو اشتراک ایمیل‌ها</a></p>{{end}}`
	footEn := `{{with .UnsubscribeURL}}<p style="font-size:12px;color:#777"><a href="{{.}}">Unsubscribe</a></p>{{end}}`
	textFootFa := "{{with .UnsubscribeURL}}\n\nلغو اشتراک: {{.}}{{end}}"
	textFootEn := "{{with .UnsubscribeURL}}\n\nUnsubscribe: {{.}}{{end}}"
	mk := func(id, desc string, cat notification.Category, c ...Content) Template {
		return Template{ID: id, Version: 1, Description: desc, DefaultCategory: cat, Contents: c, Default: true}
	}
	// product names the product, linked when its page is known. Templates
	// cannot share definitions, so it is spliced into each HTML body.
	product := `{{define "product"}}{{with index .Vars "product_url"}}<a href="{{.}}">{{end}}{{.Vars.product_name}}{{with index .Vars "product_url"}}</a>{{end}}{{end}}`
	scoreLinks := `{{$v := .Vars}}<table role="presentation" style="border-collapse:collapse"><tr>{{range scale .Vars.scale_min .Vars.scale_max}}<td style="padding:2px"><a href="{{scoreURL $v .}}" style="display:inline-block;min-width:32px;padding:8px;text-align:center;border:1px solid #888;border-radius:4px;text-decoration:none">{{.}}</a></td>{{end}}</tr></table>`
	return []Template{
		mk("survey-invitation", "Survey invitation: one tappable link per score", notification.Marketing,
			Content{Channel: email, Locale: "fa", Subject: `{{.Vars.shop_name}}: نظر شما برای ما مهم است`,
				Text: greetFa + "،\n{{.Vars.question}}\n\nبرای پاسخ: {{.Vars.survey_url}}" + textFootFa,
				HTML: `<p>` + greetFa + `،</p><p>{{.Vars.question}}</p>` + scoreLinks + `<p><a href="{{.Vars.survey_url}}">پاسخ در صفحهٔ نظرسنجی</a></p>` + footFa},
			Content{Channel: email, Locale: "en", Subject: `{{.Vars.shop_name}}: how did we do?`,
				Text: greetEn + ",\n{{.Vars.question}}\n\nAnswer here: {{.Vars.survey_url}}" + textFootEn,
				HTML: `<p>` + greetEn + `,</p><p>{{.Vars.question}}</p>` + scoreLinks + `<p><a href="{{.Vars.survey_url}}">Answer on the survey page</a></p>` + footEn},
			Content{Channel: sms, Locale: "fa", Text: `{{.Vars.shop_name}}: {{.Vars.question}} {{.Vars.survey_url}}`},
			Content{Channel: sms, Locale: "en", Text: `{{.Vars.shop_name}}: {{.Vars.question}} {{.Vars.survey_url}}`},
		),
		mk("vip-welcome", "Welcome to the VIP club", notification.Marketing,
			Content{Channel: email, Locale: "fa", Subject: `به باشگاه مشتریان ویژه خوش آمدید`,
				Text: greetFa + "،\nاز همراهی شما سپاسگزاریم؛ از امروز عضو مشتریان ویژه هستید." + textFootFa,
				HTML: `<p>` + greetFa + `،</p><p>از همراهی شما سپاسگزاریم؛ از امروز عضو مشتریان ویژه هستید.</p>` + footFa},
			Content{Channel: email, Locale: "en", Subject: `Welcome to our VIP club`,
				Text: greetEn + ",\nThank you for shopping with us: you are now one of our VIP customers." + textFootEn,
				HTML: `<p>` + greetEn + `,</p><p>Thank you for shopping with us: you are now one of our VIP customers.</p>` + footEn},
			Content{Channel: sms, Locale: "fa", Text: greetFa + "، از امروز عضو مشتریان ویژه هستید. سپاس از همراهی‌تان."},
			Content{Channel: sms, Locale: "en", Text: greetEn + ", you are now one of our VIP customers. Thank you!"},
		),
		mk("winback", "We miss you", notification.Marketing,
			Content{Channel: email, Locale: "fa", Subject: `دلمان برایتان تنگ شده`,
				Text: greetFa + "،\nمدتی است از شما خبری نداریم. سری به فروشگاه بزنید.{{with index .Vars \"discount_code\"}}\nکد تخفیف شما: {{.}}{{end}}" + textFootFa,
				HTML: `<p>` + greetFa + `،</p><p>مدتی است از شما خبری نداریم. سری به فروشگاه بزنید.</p>{{with index .Vars "discount_code"}}<p>کد تخفیف شما: <b>{{.}}</b></p>{{end}}` + footFa},
			Content{Channel: email, Locale: "en", Subject: `We miss you`,
				Text: greetEn + ",\nIt has been a while. Come and see what is new.{{with index .Vars \"discount_code\"}}\nYour discount code: {{.}}{{end}}" + textFootEn,
				HTML: `<p>` + greetEn + `,</p><p>It has been a while. Come and see what is new.</p>{{with index .Vars "discount_code"}}<p>Your discount code: <b>{{.}}</b></p>{{end}}` + footEn},
			Content{Channel: sms, Locale: "fa", Text: greetFa + "، دلمان برایتان تنگ شده!{{with index .Vars \"discount_code\"}} کد تخفیف: {{.}}{{end}}"},
			Content{Channel: sms, Locale: "en", Text: greetEn + ", we miss you!{{with index .Vars \"discount_code\"}} Code: {{.}}{{end}}"},
		),
		mk("back-in-stock", "A product the customer wanted is back", notification.Marketing,
			Content{Channel: email, Locale: "fa", Subject: `{{.Vars.product_name}} دوباره موجود شد`,
				Text: greetFa + "،\n{{.Vars.product_name}} که دنبالش بودید دوباره موجود است.{{with index .Vars \"product_url\"}} {{.}}{{end}}" + textFootFa,
				HTML: product + `<p>` + greetFa + `،</p><p>{{template "product" .}} که دنبالش بودید دوباره موجود است.</p>` + footFa},
			Content{Channel: email, Locale: "en", Subject: `{{.Vars.product_name}} is back in stock`,
				Text: greetEn + ",\n{{.Vars.product_name}} is back in stock.{{with index .Vars \"product_url\"}} {{.}}{{end}}" + textFootEn,
				HTML: product + `<p>` + greetEn + `,</p><p>{{template "product" .}} is back in stock.</p>` + footEn},
			Content{Channel: sms, Locale: "fa", Text: `{{.Vars.product_name}} دوباره موجود شد.{{with index .Vars "product_url"}} {{.}}{{end}}`},
			Content{Channel: sms, Locale: "en", Text: `{{.Vars.product_name}} is back in stock.{{with index .Vars "product_url"}} {{.}}{{end}}`},
		),
		mk("viewed-discount", "A nudge, maybe with a discount, for a product viewed and not bought", notification.Marketing,
			Content{Channel: email, Locale: "fa", Subject: `هنوز به {{.Vars.product_name}} فکر می‌کنید؟`,
				Text: greetFa + "،\n{{.Vars.product_name}} منتظر شماست.{{with index .Vars \"product_url\"}} {{.}}{{end}}{{with index .Vars \"discount_code\"}}\nکد تخفیف: {{.}}{{end}}" + textFootFa,
				HTML: product + `<p>` + greetFa + `،</p><p>{{template "product" .}} منتظر شماست.</p>{{with index .Vars "discount_code"}}<p>کد تخفیف: <b>{{.}}</b></p>{{end}}` + footFa},
			Content{Channel: email, Locale: "en", Subject: `Still thinking about {{.Vars.product_name}}?`,
				Text: greetEn + ",\n{{.Vars.product_name}} is waiting for you.{{with index .Vars \"product_url\"}} {{.}}{{end}}{{with index .Vars \"discount_code\"}}\nDiscount code: {{.}}{{end}}" + textFootEn,
				HTML: product + `<p>` + greetEn + `,</p><p>{{template "product" .}} is waiting for you.</p>{{with index .Vars "discount_code"}}<p>Discount code: <b>{{.}}</b></p>{{end}}` + footEn},
			Content{Channel: sms, Locale: "fa", Text: `{{.Vars.product_name}} منتظر شماست.{{with index .Vars "discount_code"}} کد تخفیف: {{.}}{{end}}{{with index .Vars "product_url"}} {{.}}{{end}}`},
			Content{Channel: sms, Locale: "en", Text: `{{.Vars.product_name}} is waiting for you.{{with index .Vars "discount_code"}} Code: {{.}}{{end}}{{with index .Vars "product_url"}} {{.}}{{end}}`},
		),
		mk("big-order-thanks", "Thanks for a large order", notification.Marketing,
			Content{Channel: email, Locale: "fa", Subject: `سپاس برای سفارش {{faDigits .Vars.order_id}}`,
				Text: greetFa + "،\nاز سفارش {{faDigits .Vars.order_id}} شما صمیمانه سپاسگزاریم." + textFootFa,
				HTML: `<p>` + greetFa + `،</p><p>از سفارش {{faDigits .Vars.order_id}} شما صمیمانه سپاسگزاریم.</p>` + footFa},
			Content{Channel: email, Locale: "en", Subject: `Thank you for order {{.Vars.order_id}}`,
				Text: greetEn + ",\nThank you for your order {{.Vars.order_id}}." + textFootEn,
				HTML: `<p>` + greetEn + `,</p><p>Thank you for your order {{.Vars.order_id}}.</p>` + footEn},
			Content{Channel: sms, Locale: "fa", Text: `از سفارش {{faDigits .Vars.order_id}} شما سپاسگزاریم.`},
			Content{Channel: sms, Locale: "en", Text: `Thank you for your order {{.Vars.order_id}}.`},
		),
	}
}
