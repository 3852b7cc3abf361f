package comment

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// Sentiment is the tone of a comment.
type Sentiment int

// Sentiments. The zero value means there was no comment to analyse.
const (
	// None: no comment.
	None Sentiment = iota
	// Positive tone.
	Positive
	// Neutral: no sentiment words, or they cancel out.
	Neutral
	// Negative tone.
	Negative
)

// String returns "positive", "neutral", "negative" or "none".
func (s Sentiment) String() string {
	switch s {
	case Positive:
		return "positive"
	case Neutral:
		return "neutral"
	case Negative:
		return "negative"
	}
	return "none"
}

// Analysis is what a comment says.
type Analysis struct {
	Sentiment Sentiment
	// Topics are the topic tags found, sorted.
	Topics []string
}

// Topics lists every topic tag Analyze can give, sorted.
func Topics() []string {
	out := make([]string, 0, len(topicKeywords))
	for t := range topicKeywords {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// lexicons with ZWNJ removed from their keys, as lookups remove it.
var (
	faPolarity   = stripKeys(persianPolarity)
	faPre        = stripSet(persianPreNegators)
	faPost       = stripSet(persianPostNegators)
	topicWords   = stripTopics(topicKeywords)
	contrastives = map[string]bool{"but": true, "however": true, "although": true, "ولی": true, "اما": true, "ولیکن": true}
)

var keyFold = strings.NewReplacer("\u200c", "", "'", "", "’", "")

// key is a word as the lexicons are looked up: without ZWNJ, so
// "می‌خواهم" and "میخواهم" are one word, and without apostrophes.
func key(tok string) string { return keyFold.Replace(tok) }

func stripKeys(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[key(k)] = v
	}
	return out
}

func stripSet(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[key(k)] = true
	}
	return out
}

func stripTopics(m map[string][]string) map[string][]string {
	out := make(map[string][]string, len(m))
	for t, ws := range m {
		for _, w := range ws {
			out[t] = append(out[t], key(w))
		}
	}
	return out
}

func isPersian(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return r >= 0x0600 && r <= 0x06FF
}

// stems returns the forms of k to look up: itself, then without one
// suffix.
func stems(k string) []string {
	out := []string{k}
	if isPersian(k) {
		for _, s := range persianSuffixes {
			s = key(s)
			if strings.HasSuffix(k, s) && utf8.RuneCountInString(k)-utf8.RuneCountInString(s) >= 2 {
				out = append(out, strings.TrimSuffix(k, s))
			}
		}
		return out
	}
	for _, s := range []string{"s", "es", "ed", "d", "ing", "ly"} {
		if strings.HasSuffix(k, s) && len(k)-len(s) >= 3 {
			out = append(out, strings.TrimSuffix(k, s))
		}
	}
	return out
}

func polarity(k string) int {
	lex := englishPolarity
	if isPersian(k) {
		lex = faPolarity
	}
	for _, s := range stems(k) {
		if p, ok := lex[s]; ok {
			return p
		}
	}
	return 0
}

// Analyze returns the sentiment and topics of a comment. A sentiment word
// after a negator ("not good", "هیچ مشکلی", "بدون تاخیر") or before a
// negated verb ("خوب نبود", "راضی نیستم") counts the other way, once: the
// Persian double negative "هیچ مشکلی نداشتم" means no problem. Words after
// "but" / "ولی" / "اما" weigh double: the clause that ends a comment is
// usually the verdict.
func Analyze(text string) Analysis {
	toks := tokens(normalize(text))
	if len(toks) == 0 {
		return Analysis{}
	}
	score, weight := 0, 1
	negateUntil := -1
	last, lastP, lastFlipped := -10, 0, false
	for i := 0; i < len(toks); i++ {
		raw := toks[i]
		k := key(raw)
		if k == "بی" && i+1 < len(toks) {
			k = "بی" + key(toks[i+1]) // "بی کیفیت" written apart
			i++
		}
		switch {
		case contrastives[k]:
			weight = 2
			continue
		case englishNegators[k] || strings.HasSuffix(raw, "n't") || strings.HasSuffix(raw, "n’t") || faPre[k]:
			negateUntil = i + 3
			if p := englishPolarity[k]; p == 0 {
				continue
			}
		case faPost[k] || (strings.HasPrefix(k, "نمی") && polarity(strings.TrimPrefix(k, "نمی")) == 0 && utf8.RuneCountInString(k) > 4):
			if i-last <= 2 && !lastFlipped && lastP != 0 {
				score -= 2 * lastP
				lastFlipped = true
			}
			continue
		}
		p := polarity(k)
		if p == 0 && strings.HasPrefix(k, "نمی") {
			p = -polarity(strings.TrimPrefix(k, "نمی")) // "نمی‌پسندم"
		}
		if p == 0 {
			continue
		}
		p *= weight
		flipped := false
		if i <= negateUntil {
			p, flipped = -p, true
			negateUntil = -1
		}
		score += p
		last, lastP, lastFlipped = i, p, flipped
	}
	a := Analysis{Sentiment: Neutral, Topics: topics(toks)}
	switch {
	case score > 0:
		a.Sentiment = Positive
	case score < 0:
		a.Sentiment = Negative
	}
	return a
}

func topics(toks []string) []string {
	var out []string
	for t, words := range topicWords {
	next:
		for _, raw := range toks {
			k := key(raw)
			for _, w := range words {
				if matches(k, w) {
					out = append(out, t)
					break next
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// matches reports whether word k is keyword w: the same after removing a
// suffix, or, for keywords of five letters or more, any word they begin.
func matches(k, w string) bool {
	if utf8.RuneCountInString(w) >= 5 && strings.HasPrefix(k, w) {
		return true
	}
	return slices.Contains(stems(k), w)
}
