package rule

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Doc is what conditions read: a JSON tree with the event under "event" and
// the customer's profile under "profile", each as protojson writes it with
// proto field names (UseProtoNames) and decoded by encoding/json into
// map[string]any. So numbers arrive as float64, or as strings for int64 and
// money amounts ("1250000.50"); enums as their names ("SURVEY_KIND_NPS").
//
// Write events with protojson's EmitDefaultValues: without it a zero is left
// out, and an NPS score of 0 (the unhappiest answer) reads as missing, which
// no "score lte 6" condition holds for.
type Doc map[string]any

// DocFromJSON builds a Doc from the protojson of an event and of a profile.
// Either may be empty: a catalog event has no profile, and a delayed firing
// may read the profile alone.
func DocFromJSON(event, profile []byte) (Doc, error) {
	d := Doc{}
	for _, part := range []struct {
		name string
		json []byte
	}{{"event", event}, {"profile", profile}} {
		if len(part.json) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(part.json, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", part.name, err)
		}
		d[part.name] = m
	}
	return d, nil
}

// Lookup returns the value at path in d, such as
// "event.order_placed.total.amount" or "profile.commerce.by_currency[0]".
// A path that may name several values (through [*] or a list) returns them
// as a []any, in document order. A path that names nothing — a missing
// field, a JSON null, an index past the end, a malformed path — returns
// false.
//
// Paths, used by conditions, correlations and {placeholders}:
//
//	path     = segment { "." segment }
//	segment  = name { "[" selector "]" }
//	selector = index | "*" | field "=" literal | field "=" "{" path "}"
//
// A name steps into an object. Stepped onto a list, it steps into every
// element: "items.product.product_id" is "items[*].product.product_id", so
// a path through a repeated field names every value along it.
//
// [2] picks the element at that index (from 0); [*] every element.
// [currency=IRT] picks the first element whose field currency equals the
// literal IRT, and [currency={event.order_placed.total.currency}] the first
// one whose field equals the value at that path of the same Doc — the way to
// pick "the customer's figures in the event's currency" out of
// profile.commerce.by_currency.
func Lookup(d Doc, path string) (any, bool) {
	steps, err := parsePath(path)
	if err != nil {
		return nil, false
	}
	vals, multi := eval(d, steps)
	switch {
	case len(vals) == 0:
		return nil, false
	case multi:
		return vals, true
	default:
		return vals[0], true
	}
}

// Values returns the text of every scalar at path: strings as they are,
// numbers in plain decimal form ("1250000", never "1.25e+06"), booleans as
// "true"/"false". A list at the end of the path gives its elements. Each
// text appears once, in document order. It is how correlations compare, and
// what an engine keys pending timers by.
func Values(d Doc, path string) []string {
	steps, err := parsePath(path)
	if err != nil {
		return nil
	}
	vals, _ := eval(d, steps)
	return texts(flatten(vals))
}

// Holds reports whether the condition holds in d.
//
// Numbers compare as exact decimals when both sides read as one
// ("1250000.50" equals "1250000.5"); anything else compares as text, in
// byte order for gt/gte/lt/lte. When the path names several values (a list
// walked with [*]), eq, gt, gte, lt, lte, in and contains hold when any of
// them does; ne and not_in are their negations, so they hold when none is
// equal. contains tests a substring of a string, an element of a list, or
// a key of an object.
//
// A missing path: exists is false, and so is every comparison — except ne
// and not_in, which hold (a value that is not there is not equal to x). A
// condition with a value_path that names nothing (such as a currency the
// customer never bought in), or a factor that is not a decimal, holds for no
// operator: there is nothing to compare with.
func (c Condition) Holds(d Doc) bool {
	steps, err := parsePath(c.Path)
	if err != nil {
		return false
	}
	lefts, _ := eval(d, steps)
	if c.Op == Exists {
		return len(lefts) > 0
	}
	rights, ok := c.operands(d)
	if !ok {
		return false
	}
	switch c.Op {
	case Ne:
		return !anyHolds(Eq, lefts, rights)
	case NotIn:
		return !anyHolds(In, lefts, rights)
	case Eq, Gt, Gte, Lt, Lte, In, Contains:
		return anyHolds(c.Op, lefts, rights)
	}
	return false
}

// AllHold reports whether every condition holds in d; true for none.
func AllHold(cs []Condition, d Doc) bool {
	for _, c := range cs {
		if !c.Holds(d) {
			return false
		}
	}
	return true
}

// Holds reports whether the start event and the other event agree on the
// correlated field: some value at Start in start equals some value at Other
// in other. So "event.order_placed.items[*].product.product_id" matches a
// viewed product when any line of the order is that product. Values compare
// by their text (see Values), as identifiers: "007" and "7" differ. A side
// that names nothing matches nothing.
func (c Correlation) Holds(start, other Doc) bool {
	want := Values(start, c.Start)
	if len(want) == 0 {
		return false
	}
	for _, v := range Values(other, c.Other) {
		for _, w := range want {
			if v == w {
				return true
			}
		}
	}
	return false
}

// Correlated reports whether other is the start event's counterpart: every
// correlation that applies to other's type (event.type; see AppliesTo)
// holds. With none that applies, any such event of the customer counts —
// so a delay rule stopped by order.refunded and order.cancelled writes one
// entry per stop type, each reading its own body.
func Correlated(cs []Correlation, start, other Doc) bool {
	typ, _ := Lookup(other, "event.type")
	t, _ := typ.(string)
	for _, c := range cs {
		if t != "" && !c.AppliesTo(t) {
			continue
		}
		if !c.Holds(start, other) {
			return false
		}
	}
	return true
}

// StartKey is the key a start event's wait is filed under: the start
// event's value at each distinct Start path of cs, in order of first
// appearance (the first value where a path names several), joined by NUL.
// It is "" when cs is empty, and false when a Start path names nothing.
// OtherKeys of a counterpart event gives the same key exactly when
// Correlated holds, for a rule that validates.
func StartKey(cs []Correlation, start Doc) (string, bool) {
	var parts []string
	for _, p := range startPaths(cs) {
		vs := Values(start, p)
		if len(vs) == 0 {
			return "", false
		}
		parts = append(parts, vs[0])
	}
	return strings.Join(parts, "\x00"), true
}

// OtherKeys are the keys of the waits a stop or absent event ends: for each
// distinct Start path, the event's values at the Other path of the entry
// that applies to its type (event.type), one key per combination — so an
// order of two products gives two keys, ending a wait on either. [""] when
// cs is empty (it ends every wait); none when an entry is missing.
func OtherKeys(cs []Correlation, other Doc) []string {
	typ, _ := Lookup(other, "event.type")
	t, _ := typ.(string)
	keys := []string{""}
	for i, p := range startPaths(cs) {
		var vs []string
		for _, c := range cs {
			if c.Start == p && (t == "" || c.AppliesTo(t)) {
				vs = Values(other, c.Other)
				break
			}
		}
		var next []string
		for _, k := range keys {
			for _, v := range vs {
				if i > 0 {
					v = k + "\x00" + v
				}
				next = append(next, v)
			}
		}
		keys = next
	}
	return keys
}

// startPaths are the distinct Start paths of cs, in order.
func startPaths(cs []Correlation) []string {
	var ps []string
	for _, c := range cs {
		if !containsString(ps, c.Start) {
			ps = append(ps, c.Start)
		}
	}
	return ps
}

// Expand fills the {path} placeholders of a template (a touchpoint, a task
// reason, a trait value, a notification variable) from d, such as
// "order:{event.order_delivered.order_id}" → "order:1001". A path naming
// several values gives them joined by ", "; a missing one gives "". "{{"
// and "}}" write literal braces.
func Expand(template string, d Doc) string {
	if !strings.ContainsAny(template, "{}") || checkTemplate(template) != nil {
		return template // a malformed one (Validate refuses it) as written
	}
	var b strings.Builder
	_ = walkTemplate(template, func(lit string, path string) {
		b.WriteString(lit)
		if path != "" {
			b.WriteString(strings.Join(Values(d, path), ", "))
		}
	})
	return b.String()
}

// walkTemplate calls emit for each literal run and placeholder path of t, in
// order, and reports the first malformed brace.
func walkTemplate(t string, emit func(lit, path string)) error {
	var lit strings.Builder
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c == '{' && i+1 < len(t) && t[i+1] == '{':
			lit.WriteByte('{')
			i++
		case c == '}' && i+1 < len(t) && t[i+1] == '}':
			lit.WriteByte('}')
			i++
		case c == '{':
			end := strings.IndexByte(t[i+1:], '}')
			if end < 0 {
				return fmt.Errorf("has an unclosed { at %d", i+1)
			}
			path := t[i+1 : i+1+end]
			if err := checkRootPath(path); err != nil {
				return fmt.Errorf("placeholder {%s} %w", path, err)
			}
			emit(lit.String(), path)
			lit.Reset()
			i += end + 1
		case c == '}':
			return fmt.Errorf(`has a "}" at %d with no "{" (write "}}" for a brace)`, i+1)
		default:
			lit.WriteByte(c)
		}
	}
	emit(lit.String(), "")
	return nil
}

// checkTemplate reports the first malformed placeholder of t.
func checkTemplate(t string) error {
	return walkTemplate(t, func(string, string) {})
}

// operands returns what the path's values are compared with: the literal
// values, or the values at value_path times factor. False when there is
// nothing to compare with.
func (c Condition) operands(d Doc) ([]any, bool) {
	if c.ValuePath == "" {
		out := make([]any, len(c.Values))
		for i, v := range c.Values {
			out[i] = v
		}
		return out, len(out) > 0
	}
	steps, err := parsePath(c.ValuePath)
	if err != nil {
		return nil, false
	}
	vals, _ := eval(d, steps)
	if c.Op == In || c.Op == NotIn {
		vals = flatten(vals)
	}
	if c.Factor == "" {
		return vals, len(vals) > 0
	}
	f, ok := parseDecimal(c.Factor)
	if !ok {
		return nil, false
	}
	out := make([]any, 0, len(vals))
	for _, v := range vals {
		if r, ok := decimalOf(v); ok {
			out = append(out, new(big.Rat).Mul(r, f))
		}
	}
	return out, len(out) > 0
}

// anyHolds reports whether op holds for some left value against the right
// ones.
func anyHolds(op Operator, lefts, rights []any) bool {
	for _, l := range lefts {
		for _, r := range rights {
			var ok bool
			switch op {
			case In:
				ok = compare(Eq, l, r)
			case Contains:
				ok = contains(l, r)
			default:
				ok = compare(op, l, r)
			}
			if ok {
				return true
			}
		}
	}
	return false
}

// compare applies eq, gt, gte, lt or lte to two scalars: as exact decimals
// when both are numbers, else as text. Lists and objects compare with
// nothing.
func compare(op Operator, l, r any) bool {
	lr, lok := decimalOf(l)
	rr, rok := decimalOf(r)
	var cmp int
	switch {
	case lok && rok:
		cmp = lr.Cmp(rr)
	case lok || rok:
		// A product (value_path × factor) is a number: no text to compare.
		if _, isProduct := r.(*big.Rat); isProduct {
			return false
		}
		fallthrough
	default:
		ls, lok := scalarText(l)
		rs, rok := scalarText(r)
		if !lok || !rok {
			return false
		}
		cmp = strings.Compare(ls, rs)
	}
	switch op {
	case Eq:
		return cmp == 0
	case Gt:
		return cmp > 0
	case Gte:
		return cmp >= 0
	case Lt:
		return cmp < 0
	case Lte:
		return cmp <= 0
	}
	return false
}

// contains: a substring of a string, an element of a list, a key of an
// object.
func contains(l, r any) bool {
	switch x := l.(type) {
	case string:
		s, ok := scalarText(r)
		return ok && strings.Contains(x, s)
	case []any:
		for _, e := range x {
			if compare(Eq, e, r) {
				return true
			}
		}
	case map[string]any, Doc:
		s, ok := scalarText(r)
		if !ok {
			return false
		}
		_, has := member(x, s)
		return has
	}
	return false
}

// flatten replaces lists among vals by their elements.
func flatten(vals []any) []any {
	for _, v := range vals {
		if _, ok := v.([]any); !ok {
			continue
		}
		out := make([]any, 0, len(vals))
		for _, v := range vals {
			if list, ok := v.([]any); ok {
				for _, e := range list {
					if e != nil {
						out = append(out, e)
					}
				}
			} else {
				out = append(out, v)
			}
		}
		return out
	}
	return vals
}

// texts returns the distinct texts of the scalars among vals, in order.
func texts(vals []any) []string {
	var out []string
	for _, v := range vals {
		t, ok := scalarText(v)
		if !ok || containsString(out, t) {
			continue
		}
		out = append(out, t)
	}
	return out
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// scalarText is the text of a scalar: what Values returns and correlations
// compare.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", false
		}
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), true
	case int:
		return strconv.Itoa(x), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint32:
		return strconv.FormatUint(uint64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case json.Number:
		return string(x), true
	case *big.Rat:
		return x.RatString(), true
	}
	return "", false
}

// decimalOf reads a scalar as an exact number: a JSON number as the decimal
// it was written as (0.1 is 1/10, not the nearest binary fraction), a string
// when it is a plain decimal such as "1250000.50".
func decimalOf(v any) (*big.Rat, bool) {
	switch x := v.(type) {
	case *big.Rat:
		return x, true
	case string:
		return parseDecimal(x)
	case json.Number:
		return parseDecimal(string(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, false
		}
		// The shortest text that reads back as x is what the JSON said.
		return new(big.Rat).SetString(strconv.FormatFloat(x, 'g', -1, 64))
	case float32:
		return new(big.Rat).SetString(strconv.FormatFloat(float64(x), 'g', -1, 32))
	case int:
		return new(big.Rat).SetInt64(int64(x)), true
	case int32:
		return new(big.Rat).SetInt64(int64(x)), true
	case int64:
		return new(big.Rat).SetInt64(x), true
	case uint32:
		return new(big.Rat).SetInt64(int64(x)), true
	case uint64:
		return new(big.Rat).SetUint64(x), true
	}
	return nil, false
}

// parseDecimal reads a plain decimal: an optional sign, digits, an optional
// fraction ("12", "-0.5", "1250000.50", ".5"). No exponents — "1e9999999"
// from a shop's payload must not cost a billion-digit number — and no
// fractions like "1/3".
func parseDecimal(s string) (*big.Rat, bool) {
	if !isDecimal(s) {
		return nil, false
	}
	return new(big.Rat).SetString(s)
}

func isDecimal(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

// errNotDecimal is why a factor or numeric value was refused.
var errNotDecimal = errors.New(`must be a decimal such as "2" or "1.5"`)

// stepKind is what one step of a path does.
type stepKind uint8

const (
	stepKey    stepKind = iota // into an object's field (or every element's)
	stepIndex                  // [n]
	stepAll                    // [*]
	stepFilter                 // [field=literal] or [field={path}]
)

type step struct {
	kind  stepKind
	key   string // stepKey: the field; stepFilter: the element's field compared
	index int    // stepIndex
	value string // stepFilter: the literal
	ref   []step // stepFilter: the path whose value is compared, when written {path}
}

// maxIndex keeps [n] within reason: no event or profile has lists this long.
const maxIndex = 1 << 20

var errEmptyPath = errors.New("is empty")

// parsePath reads a path. Its errors are for people writing rules.
func parsePath(p string) ([]step, error) {
	if p == "" {
		return nil, errEmptyPath
	}
	var steps []step
	i := 0
	for {
		start := i
		for i < len(p) && p[i] != '.' && p[i] != '[' {
			if !nameByte(p[i]) {
				return nil, fmt.Errorf("has %q at %d where a field name was expected", p[i], i+1)
			}
			i++
		}
		if i == start {
			return nil, fmt.Errorf("has an empty field name at %d", i+1)
		}
		steps = append(steps, step{kind: stepKey, key: p[start:i]})
		for i < len(p) && p[i] == '[' {
			end := closingBracket(p, i)
			if end < 0 {
				return nil, fmt.Errorf("has an unclosed [ at %d", i+1)
			}
			s, err := parseSelector(p[i+1 : end])
			if err != nil {
				return nil, fmt.Errorf("[%s]: %w", p[i+1:end], err)
			}
			steps = append(steps, s)
			i = end + 1
		}
		if i == len(p) {
			return steps, nil
		}
		if p[i] != '.' {
			return nil, fmt.Errorf("has %q at %d where \".\" or \"[\" was expected", p[i], i+1)
		}
		i++
		if i == len(p) {
			return nil, errors.New(`ends with "."`)
		}
	}
}

// nameByte reports whether b may appear in a field name: anything but the
// path's own punctuation, spaces and control characters.
func nameByte(b byte) bool {
	switch b {
	case '.', '[', ']', '{', '}', '=', '*':
		return false
	}
	return b > ' ' && b != 0x7f
}

// closingBracket returns the index of the "]" closing the "[" at open,
// skipping a {path} (which may hold brackets of its own), or -1.
func closingBracket(p string, open int) int {
	inRef := false
	for j := open + 1; j < len(p); j++ {
		switch p[j] {
		case '{':
			inRef = true
		case '}':
			inRef = false
		case ']':
			if !inRef {
				return j
			}
		}
	}
	return -1
}

func parseSelector(sel string) (step, error) {
	switch {
	case sel == "*":
		return step{kind: stepAll}, nil
	case sel == "":
		return step{}, errors.New("is empty")
	case sel[0] >= '0' && sel[0] <= '9':
		n, err := strconv.Atoi(sel)
		if err != nil || n > maxIndex {
			return step{}, errors.New("is not an index, *, or field=value")
		}
		return step{kind: stepIndex, index: n}, nil
	}
	field, value, ok := strings.Cut(sel, "=")
	if !ok {
		return step{}, errors.New("is not an index, *, or field=value")
	}
	for i := 0; i < len(field); i++ {
		if !nameByte(field[i]) {
			return step{}, fmt.Errorf("field %q is not a field name", field)
		}
	}
	if field == "" {
		return step{}, errors.New("has no field before =")
	}
	if inner, ok := strings.CutPrefix(value, "{"); ok {
		inner, ok = strings.CutSuffix(inner, "}")
		if !ok {
			return step{}, errors.New("has an unclosed {")
		}
		if err := checkRootPath(inner); err != nil {
			return step{}, fmt.Errorf("{%s} %w", inner, err)
		}
		ref, _ := parsePath(inner)
		return step{kind: stepFilter, key: field, ref: ref}, nil
	}
	if value == "" || strings.ContainsAny(value, "{}[]") {
		return step{}, errors.New("needs a value after =: a literal or a {path}")
	}
	return step{kind: stepFilter, key: field, value: value}, nil
}

// checkRootPath checks a path read against a whole Doc: it must parse and
// start with "event." or "profile.".
func checkRootPath(p string) error {
	if p == "" {
		return errEmptyPath
	}
	if !strings.HasPrefix(p, "event.") && !strings.HasPrefix(p, "profile.") {
		return errors.New(`must start with "event." or "profile."`)
	}
	_, err := parsePath(p)
	return err
}

// checkEventPath checks a path read against one event only.
func checkEventPath(p string) error {
	if p == "" {
		return errEmptyPath
	}
	if !strings.HasPrefix(p, "event.") {
		return errors.New(`must start with "event."`)
	}
	_, err := parsePath(p)
	return err
}

// eval walks steps from the root of d. It returns every value reached
// (JSON nulls count as absent) and whether the path may name several — it
// went through [*] or stepped by name onto a list.
func eval(d Doc, steps []step) (vals []any, multi bool) {
	cur := []any{map[string]any(d)}
	for _, s := range steps {
		var next []any
		var want []string
		if s.kind == stepFilter {
			want = filterValues(d, s)
			if len(want) == 0 {
				return nil, multi
			}
		}
		for _, v := range cur {
			switch s.kind {
			case stepKey:
				if list, ok := v.([]any); ok {
					multi = true
					for _, e := range list {
						if x, ok := member(e, s.key); ok {
							next = append(next, x)
						}
					}
				} else if x, ok := member(v, s.key); ok {
					next = append(next, x)
				}
			case stepIndex:
				if list, ok := v.([]any); ok && s.index < len(list) && list[s.index] != nil {
					next = append(next, list[s.index])
				}
			case stepAll:
				multi = true
				if list, ok := v.([]any); ok {
					for _, e := range list {
						if e != nil {
							next = append(next, e)
						}
					}
				}
			case stepFilter:
				if list, ok := v.([]any); ok {
					if e, ok := firstWith(list, s.key, want); ok {
						next = append(next, e)
					}
				}
			}
		}
		if len(next) == 0 {
			return nil, multi
		}
		cur = next
	}
	return cur, multi
}

// member returns an object's field, if v is an object and the field is set.
func member(v any, key string) (any, bool) {
	var x any
	switch m := v.(type) {
	case map[string]any:
		x = m[key]
	case Doc:
		x = m[key]
	default:
		return nil, false
	}
	return x, x != nil
}

// filterValues is what a [field=…] selector compares with.
func filterValues(d Doc, s step) []string {
	if s.ref == nil {
		return []string{s.value}
	}
	vals, _ := eval(d, s.ref)
	return texts(vals)
}

// firstWith returns the first element of list whose field key has one of
// the texts in want.
func firstWith(list []any, key string, want []string) (any, bool) {
	for _, e := range list {
		x, ok := member(e, key)
		if !ok {
			continue
		}
		if t, ok := scalarText(x); ok {
			for _, w := range want {
				if t == w {
					return e, true
				}
			}
		}
	}
	return nil, false
}
