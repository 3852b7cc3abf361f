// Package comment analyses survey comments in Persian and English: a
// sentiment (positive, neutral, negative) from a small lexicon the project
// owns, with negation, and topic tags by keyword. It is deliberately
// simple and explainable; the labelled sample in testdata keeps it honest.
package comment

import (
	"strings"
	"unicode"
)

const zwnj = '\u200c'

// normalize folds the spellings one Persian word can arrive in: Arabic yeh
// and kaf (ي ك ى) to Persian (ی ک), teh marbuta and heh with yeh to heh,
// alef variants to alef, Arabic and Persian digits to Latin, diacritics and
// tatweel removed, and Latin letters lower-cased. The zero-width non-joiner
// is kept: it tells "می‌خواهم" from two words.
func normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == 'ي' || r == 'ى' || r == 'ئ':
			r = 'ی'
		case r == 'ك':
			r = 'ک'
		case r == 'ة' || r == 'ۀ':
			r = 'ه'
		case r == 'أ' || r == 'إ' || r == 'ٱ':
			r = 'ا'
		case r == 'ؤ':
			r = 'و'
		case r >= '\u064B' && r <= '\u065F', r == '\u0670', r == 'ـ':
			continue // harakat, superscript alef, tatweel
		case r >= '۰' && r <= '۹':
			r = '0' + (r - '۰')
		case r >= '٠' && r <= '٩':
			r = '0' + (r - '٠')
		case r == '\u200f' || r == '\u200e' || r == '\u200d':
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// tokens splits normalized text into words: letters, digits, ZWNJ and the
// apostrophe of "didn't" stay inside a word.
func tokens(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == zwnj || r == '\'' || r == '’')
	})
}
