package template

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	ptime "github.com/yaa110/go-persian-calendar"
)

// Funcs are the helpers every template may call:
//
//	jalali T          "1405/09/04" — T a time.Time or RFC 3339 string
//	jalaliLong T      "۴ آذر ۱۴۰۵"
//	faDigits S        Persian digits for ASCII ones
//	toman N, rial N   "۱٬۲۵۰٬۰۰۰ تومان" — N a number or decimal string
//	rialToToman N     N rials as tomans (N / 10)
//	thousands N       "1,250,000"
//	scale A B         the integers A..B, for one link per score
//	scoreURL V N      V["score_url_N"], for survey templates
//	default D V       V, or D when V is empty
var Funcs = map[string]any{
	"jalali":      func(v any) (string, error) { return jalali(v, "yyyy/MM/dd") },
	"jalaliLong":  func(v any) (string, error) { s, err := jalali(v, "d MMM yyyy"); return FaDigits(s), err },
	"faDigits":    func(v any) string { return FaDigits(fmt.Sprint(v)) },
	"toman":       func(v any) (string, error) { return money(v, 1, "تومان") },
	"rial":        func(v any) (string, error) { return money(v, 1, "ریال") },
	"rialToToman": func(v any) (string, error) { return money(v, 10, "تومان") },
	"thousands":   func(v any) (string, error) { n, err := amount(v, 1); return group(n, ","), err },
	"scale":       scale,
	"scoreURL": func(vars map[string]string, n any) (string, error) {
		u, ok := vars["score_url_"+fmt.Sprint(n)]
		if !ok {
			return "", fmt.Errorf("no variable score_url_%v", n)
		}
		return u, nil
	},
	"default": func(d, v any) any {
		if v == nil || fmt.Sprint(v) == "" {
			return d
		}
		return v
	},
}

var faDigits = strings.NewReplacer("0", "۰", "1", "۱", "2", "۲", "3", "۳", "4", "۴", "5", "۵", "6", "۶", "7", "۷", "8", "۸", "9", "۹")

// FaDigits writes s's ASCII digits as Persian ones.
func FaDigits(s string) string { return faDigits.Replace(s) }

func jalali(v any, layout string) (string, error) {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case string:
		var err error
		if t, err = time.Parse(time.RFC3339Nano, x); err != nil {
			return "", fmt.Errorf("jalali: %q is not an RFC 3339 time", x)
		}
	default:
		return "", fmt.Errorf("jalali: %T is not a time", v)
	}
	return ptime.New(t.In(tehran)).Format(layout), nil
}

var tehran = func() *time.Location {
	if l, err := time.LoadLocation("Asia/Tehran"); err == nil {
		return l
	}
	return time.FixedZone("IRST", 3*3600+1800)
}()

// amount reads v as a whole amount divided by div, rounding half up.
func amount(v any, div int64) (*big.Int, error) {
	s := strings.TrimSpace(fmt.Sprint(v))
	r, ok := new(big.Rat).SetString(s)
	if !ok || r.Sign() < 0 {
		return nil, fmt.Errorf("%q is not an amount", s)
	}
	r.Quo(r, new(big.Rat).SetInt64(div))
	n := new(big.Int).Quo(new(big.Int).Add(new(big.Int).Mul(r.Num(), big.NewInt(2)), r.Denom()), new(big.Int).Mul(r.Denom(), big.NewInt(2)))
	return n, nil
}

func money(v any, div int64, unit string) (string, error) {
	n, err := amount(v, div)
	if err != nil {
		return "", err
	}
	return FaDigits(group(n, "٬")) + " " + unit, nil
}

func group(n *big.Int, sep string) string {
	if n == nil {
		return ""
	}
	s := n.String()
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	return b.String()
}

func scale(a, b any) ([]int, error) {
	lo, err1 := strconv.Atoi(fmt.Sprint(a))
	hi, err2 := strconv.Atoi(fmt.Sprint(b))
	if err1 != nil || err2 != nil || hi < lo || hi-lo > 20 {
		return nil, fmt.Errorf("scale: %v..%v is not a small range of integers", a, b)
	}
	out := make([]int, 0, hi-lo+1)
	for i := lo; i <= hi; i++ {
		out = append(out, i)
	}
	return out, nil
}
