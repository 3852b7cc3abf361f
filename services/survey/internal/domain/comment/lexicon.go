package comment

// The lexicons are small on purpose: words customers of online shops use
// about orders, delivery and support, weighted 1 (mild) or 2 (strong).
// Persian entries are stems after normalize; suffixes are stripped before
// lookup (see persianStems).

var englishPolarity = map[string]int{
	"good": 1, "great": 2, "excellent": 2, "amazing": 2, "awesome": 2, "perfect": 2, "love": 2, "loved": 2,
	"happy": 1, "satisfied": 1, "fast": 1, "quick": 1, "quickly": 1, "friendly": 1, "helpful": 1, "nice": 1,
	"easy": 1, "recommend": 1, "best": 2, "thanks": 1, "thank": 1, "fantastic": 2, "polite": 1, "smooth": 1,
	"fine": 1, "reliable": 1, "fresh": 1, "well": 1, "wonderful": 2, "professional": 1, "on-time": 1,
	"bad": -1, "terrible": -2, "awful": -2, "horrible": -2, "worst": -2, "poor": -1, "slow": -1, "late": -1,
	"broken": -2, "damaged": -2, "rude": -2, "disappointed": -2, "disappointing": -2, "expensive": -1,
	"unhappy": -1, "problem": -1, "problems": -1, "issue": -1, "issues": -1, "wrong": -1, "missing": -1,
	"never": 0, "delay": -1, "delayed": -1, "useless": -2, "annoying": -1, "hard": -1, "difficult": -1,
	"cancelled": -1, "refund": -1, "fake": -2, "dirty": -1, "waste": -2, "unacceptable": -2, "complicated": -1,
	"overpriced": -2, "lost": -1, "ignored": -2, "failed": -1, "hate": -2, "dissatisfied": -1, "cold": -1,
}

// englishNegators flip the next sentiment word within three words.
var englishNegators = map[string]bool{
	"not": true, "no": true, "never": true, "nothing": true, "nobody": true, "hardly": true, "without": true,
	"dont": true, "didnt": true, "doesnt": true, "isnt": true, "wasnt": true, "werent": true, "arent": true,
	"cant": true, "couldnt": true, "wont": true, "wouldnt": true, "havent": true, "hasnt": true, "nor": true,
}

var persianPolarity = map[string]int{
	"خوب": 1, "عالی": 2, "ممنون": 1, "ممنونم": 1, "متشکر": 1, "سپاس": 1, "راضی": 1, "سریع": 1, "زود": 1,
	"مرسی": 1, "بهترین": 2, "بهتر": 1, "خوشحال": 1, "دقیق": 1, "به‌موقع": 1, "بموقع": 1, "محترم": 1,
	"مودب": 1, "باکیفیت": 1, "تمیز": 1, "ارزان": 1, "مناسب": 1, "پیشنهاد": 1, "فوق‌العاده": 2, "فوقالعاده": 2,
	"حرفه‌ای": 1, "راحت": 1, "آسان": 1, "سالم": 1, "خوش": 1, "لذت": 1, "دوست": 1, "پسند": 1, "رضایت": 1,
	"بی‌نظیر": 2, "بینظیر": 2, "کامل": 1, "درست": 1, "تازه": 1, "شیک": 1,
	"بد": -1, "افتضاح": -2, "ناراضی": -2, "دیر": -1, "تاخیر": -1, "کند": -1, "خراب": -2, "شکسته": -2,
	"گران": -1, "گرون": -1, "مشکل": -1, "ضعیف": -1, "بی‌ادب": -2, "بیادب": -2, "بدترین": -2, "بدتر": -1,
	"ناامید": -2, "متاسف": -1, "متاسفانه": -1, "اشتباه": -1, "ناقص": -1, "معیوب": -2, "کثیف": -1, "سخت": -1,
	"پاسخگو": 1, "پاسخگونبود": -1, "تقلبی": -2, "گم": -1, "ناخوشایند": -1, "وحشتناک": -2, "زشت": -1,
	"بی‌کیفیت": -2, "بیکیفیت": -2, "کلاهبرداری": -2, "پشیمان": -2, "نرسید": -2, "نیامد": -1, "نیومد": -1,
	"بی‌توجهی": -2, "بیتوجهی": -2, "اذیت": -1, "عصبانی": -2, "داغون": -2, "آشغال": -2, "ضایع": -1,
}

// persianPreNegators flip the next sentiment word within three words
// ("هیچ مشکلی" is no problem, "بدون تاخیر" without delay).
var persianPreNegators = map[string]bool{"نه": true, "هیچ": true, "بدون": true, "بی": true, "نه‌چندان": true}

// persianPostNegators flip the sentiment word just before them ("خوب
// نبود", "راضی نیستم"): Persian puts the negated verb after the adjective.
var persianPostNegators = map[string]bool{
	"نیست": true, "نیستم": true, "نیستیم": true, "نبود": true, "نبودم": true, "نبودند": true, "نشد": true,
	"نشدم": true, "نداشت": true, "نداشتم": true, "ندارد": true, "نداره": true, "ندارم": true, "نکرد": true,
	"نکردند": true, "نکردم": true, "نمیکنم": true, "نمیکند": true, "نمیشه": true, "نمیشود": true, "نیستند": true,
	"نبوده": true, "نشده": true, "نکنید": true, "نخرید": true, "نکن": true, "نیس": true,
}

// persianSuffixes are stripped, longest first, to find a word's stem:
// plural, possessive, comparative, indefinite and copula endings.
var persianSuffixes = []string{"\u200cهایی", "\u200cهای", "\u200cها", "هایی", "های", "ها", "\u200cترین", "ترین", "\u200cتر",
	"\u200cای", "\u200cام", "\u200cاش", "یی", "ای", "ام", "اش", "یم", "ید", "ند", "ست", "ه", "ی", "م", "ش", "ت"}

// topicKeywords tag a comment with a topic when one of its words starts
// with a keyword (Persian stems take suffixes, English words take -s, -ed).
var topicKeywords = map[string][]string{
	"delivery":  {"ارسال", "تحویل", "پیک", "پست", "رسید", "نرسید", "دیر", "تاخیر", "حمل", "deliver", "shipping", "shipment", "shipped", "courier", "arriv", "late", "delay", "parcel", "dispatch"},
	"price":     {"قیمت", "گران", "گرون", "ارزان", "ارزون", "تخفیف", "هزینه", "price", "pric", "expensive", "cheap", "discount", "cost", "overpriced", "value"},
	"quality":   {"کیفیت", "باکیفیت", "بیکیفیت", "بی\u200cکیفیت", "جنس", "خراب", "معیوب", "شکسته", "سالم", "اصل", "تقلبی", "quality", "broken", "damaged", "defect", "fake", "material", "works"},
	"support":   {"پشتیبانی", "پاسخگو", "پاسخ", "تماس", "کارشناس", "اپراتور", "support", "agent", "service", "respon", "helpdesk", "staff", "answer", "call"},
	"payment":   {"پرداخت", "درگاه", "کارت", "قسط", "payment", "pay", "card", "checkout", "charged", "transaction"},
	"packaging": {"بسته\u200cبندی", "بسته", "کارتن", "packag", "box", "wrapping"},
	"returns":   {"مرجوع", "بازگشت", "عودت", "استرداد", "return", "refund", "exchange"},
	"website":   {"سایت", "اپلیکیشن", "اپ", "برنامه", "website", "site", "app", "login"},
}
