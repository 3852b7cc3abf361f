package adapters

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/rule"
)

// RuleFileError is one thing wrong in a rule file, where a person finds
// it: the file, the line, and the field by its path in the rule
// ("actions[0].notify.template"; empty for the document as a whole).
type RuleFileError struct {
	File   string
	Line   int
	Field  string
	Reason string
}

// Error is "file:line: field: reason", as compilers write it, so editors
// jump to it.
func (e RuleFileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns rule.ErrInvalid.
func (e RuleFileError) Unwrap() error { return rule.ErrInvalid }

// RuleFileErrors is everything wrong in a set of rule files, by file and
// line.
type RuleFileErrors []RuleFileError

// Error writes one error a line.
func (es RuleFileErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns rule.ErrInvalid.
func (es RuleFileErrors) Unwrap() error { return rule.ErrInvalid }

// LoadRuleFiles reads the rules in every *.yaml and *.yml file directly in
// dir of fsys, in file name order. A file holds one rule, or several
// separated by "---". Reading is strict: a field the rule does not have, a
// value of the wrong shape, a rule that does not validate or an id used
// twice refuses the whole load with RuleFileErrors (which is
// rule.ErrInvalid) naming file, line and field of every problem, such as
//
//	rules/default/winback.yaml:14: actions[0].notify.template: is required
//
// so that a caller keeps the rules it runs. The rules come back with their
// defaults written out (rule.Rule.WithDefaults).
func LoadRuleFiles(fsys fs.FS, dir string) ([]rule.Rule, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("rule files: %w", err)
	}
	type placed struct {
		file string
		line int
	}
	var (
		rules []rule.Rule
		errs  RuleFileErrors
		ids   = map[string]placed{}
	)
	for _, e := range entries {
		ext := path.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		name := path.Join(dir, e.Name())
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("rule files: %w", err)
		}
		docs, docErrs := decodeRuleFile(name, data)
		errs = append(errs, docErrs...)
		for _, d := range docs {
			if first, dup := ids[d.rule.ID]; dup {
				errs = append(errs, RuleFileError{File: name, Line: d.idLine, Field: "id",
					Reason: fmt.Sprintf("%q is already the id of the rule at %s:%d", d.rule.ID, first.file, first.line)})
				continue
			}
			ids[d.rule.ID] = placed{name, d.idLine}
			rules = append(rules, d.rule)
		}
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b RuleFileError) int {
			return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
		})
		return nil, errs
	}
	return rules, nil
}

// decodedRule is a valid rule read from a file, and where its id is.
type decodedRule struct {
	rule   rule.Rule
	idLine int
}

// decodeRuleFile reads every document of one file. It returns the rules
// that are valid and the problems of the others.
func decodeRuleFile(name string, data []byte) ([]decodedRule, RuleFileErrors) {
	var (
		rules []decodedRule
		errs  RuleFileErrors
	)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return rules, errs
		}
		if err != nil {
			// After a syntax error the decoder cannot find the next
			// document: the rest of the file is unread.
			line, reason := yamlErrorLine(err.Error())
			return rules, append(errs, RuleFileError{File: name, Line: line, Reason: reason})
		}
		if len(doc.Content) == 0 {
			continue // an empty document
		}
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
			continue // nothing but "---" or comments
		}
		if root.Kind != yaml.MappingNode {
			errs = append(errs, RuleFileError{File: name, Line: root.Line,
				Reason: "a rule is a mapping of fields (id: …, kind: …), not " + nodeKindName(root)})
			continue
		}
		shape := &shapeChecker{file: name}
		shape.check(root, ruleType, "")
		if len(shape.errs) > 0 {
			errs = append(errs, shape.errs...)
			continue
		}
		var r rule.Rule
		if err := root.Decode(&r); err != nil {
			errs = append(errs, decodeErrors(name, err)...)
			continue
		}
		r = r.WithDefaults()
		invalid := r.Validate()
		for _, fe := range invalid {
			errs = append(errs, RuleFileError{File: name, Line: lineOf(root, fe.Field), Field: fe.Field, Reason: fe.Reason})
		}
		if len(invalid) == 0 {
			rules = append(rules, decodedRule{rule: r, idLine: lineOf(root, "id")})
		}
	}
}

var yamlLinePattern = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlErrorLine splits "yaml: line 3: did not find expected key" into its
// line and reason.
func yamlErrorLine(msg string) (int, string) {
	if m := yamlLinePattern.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return line, m[2]
	}
	return 0, strings.TrimPrefix(msg, "yaml: ")
}

// decodeErrors turns yaml.v3's decode errors into file errors. The shape
// check finds most of them first, with the field named.
func decodeErrors(name string, err error) RuleFileErrors {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		line, reason := yamlErrorLine(err.Error())
		return RuleFileErrors{{File: name, Line: line, Reason: reason}}
	}
	out := make(RuleFileErrors, len(te.Errors))
	for i, msg := range te.Errors {
		line, reason := yamlErrorLine(msg)
		out[i] = RuleFileError{File: name, Line: line, Reason: reason}
	}
	return out
}

var (
	ruleType     = reflect.TypeFor[rule.Rule]()
	durationType = reflect.TypeFor[rule.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
)

// ruleParts names the parts of a rule in "not a … field" messages.
var ruleParts = map[reflect.Type]string{
	ruleType:                               "rule",
	reflect.TypeFor[rule.EventMatch]():     "event match",
	reflect.TypeFor[rule.Condition]():      "condition",
	reflect.TypeFor[rule.Correlation]():    "correlate",
	reflect.TypeFor[rule.Action]():         "action",
	reflect.TypeFor[rule.SurveyAction]():   "survey",
	reflect.TypeFor[rule.NotifyAction]():   "notify",
	reflect.TypeFor[rule.TaskAction]():     "task",
	reflect.TypeFor[rule.WebhookAction]():  "webhook",
	reflect.TypeFor[rule.SetTraitAction](): "set_trait",
	reflect.TypeFor[rule.Controls]():       "controls",
}

// shapeChecker walks a YAML node against the Go type it decodes into, by
// the types' yaml tags, and finds what decoding would drop or choke on:
// unknown and repeated fields, lists where one value belongs, words where
// numbers do, durations that do not parse. Each error has its line.
type shapeChecker struct {
	file string
	errs RuleFileErrors
}

func (c *shapeChecker) fail(n *yaml.Node, field, format string, args ...any) {
	c.errs = append(c.errs, RuleFileError{File: c.file, Line: n.Line, Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (c *shapeChecker) check(n *yaml.Node, t reflect.Type, field string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // an empty value leaves the zero value
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			c.fail(n, field, "must be a duration such as \"7d\" or \"1h30m\", not %s", nodeKindName(n))
			return
		}
		var d rule.Duration
		if err := d.UnmarshalText([]byte(n.Value)); err != nil {
			c.fail(n, field, "%v", err)
		}
	case t == timeType:
		if n.Kind != yaml.ScalarNode {
			c.fail(n, field, "must be a time such as 2025-03-01T10:00:00Z, not %s", nodeKindName(n))
		}
	case t.Kind() == reflect.Struct:
		c.object(n, t, field)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.fail(n, field, "must be a list, not %s", nodeKindName(n))
			return
		}
		for i, e := range n.Content {
			c.check(e, t.Elem(), fmt.Sprintf("%s[%d]", field, i))
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.fail(n, field, "must be a mapping of names to values, not %s", nodeKindName(n))
			return
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if first, dup := seen[k.Value]; dup {
				c.fail(k, field, "%q is given twice (first at line %d)", k.Value, first)
				continue
			}
			seen[k.Value] = k.Line
			c.check(v, t.Elem(), joinField(field, k.Value))
		}
	case n.Kind != yaml.ScalarNode:
		c.fail(n, field, "must be a single value, not %s", nodeKindName(n))
	case t.Kind() == reflect.Bool && n.ShortTag() != "!!bool":
		c.fail(n, field, "must be true or false, not %q", n.Value)
	case t.Kind() == reflect.Int && n.ShortTag() != "!!int":
		c.fail(n, field, "must be a whole number, not %q", n.Value)
	}
}

// object checks a mapping against a struct's fields.
func (c *shapeChecker) object(n *yaml.Node, t reflect.Type, field string) {
	if n.Kind != yaml.MappingNode {
		c.fail(n, field, "must be a mapping of fields, not %s", nodeKindName(n))
		return
	}
	fields := yamlFields(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			c.check(v, t, field) // a YAML merge: its fields are this object's
			continue
		}
		if first, dup := seen[k.Value]; dup {
			c.fail(k, field, "field '%s' is given twice (first at line %d)", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		ft, ok := fields[k.Value]
		if !ok {
			c.fail(k, field, "field '%s' is not a %s field%s", k.Value, partName(t), suggestion(k.Value, fields))
			continue
		}
		c.check(v, ft, joinField(field, k.Value))
	}
}

// yamlFields maps a struct's YAML field names to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}

func partName(t reflect.Type) string {
	if name, ok := ruleParts[t]; ok {
		return name
	}
	return strings.ToLower(t.Name())
}

// suggestion names the field meant, when the one written is a near miss
// ("templte"), else lists the fields there are.
func suggestion(got string, fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	best, bestDist := "", 3
	for _, name := range names {
		if d := editDistance(strings.ToLower(got), name); d < bestDist {
			best, bestDist = name, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean '%s'?)", best)
	}
	return " (it has " + strings.Join(names, ", ") + ")"
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func joinField(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func nodeKindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "that"
}

// lineOf finds the line of a field, given by its path in the rule
// ("actions[0].notify.template"), in the rule's YAML. A field that is not
// there (a required one left out) gives the line of the nearest enclosing
// one that is: the "notify:" above the missing template.
func lineOf(root *yaml.Node, field string) int {
	n, line := root, root.Line
	for _, step := range fieldSteps(field) {
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		if idx, isIndex := step.(int); isIndex {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return line
			}
			n = n.Content[idx]
			line = n.Line
			continue
		}
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == step.(string) {
				line = n.Content[i].Line
				n = n.Content[i+1]
				found = true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}

// fieldSteps splits "actions[0].notify.template" into "actions", 0,
// "notify", "template".
func fieldSteps(field string) []any {
	var steps []any
	for part := range strings.SplitSeq(field, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name != "" {
			steps = append(steps, name)
		}
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			if n, err := strconv.Atoi(idx); err == nil {
				steps = append(steps, n)
			}
			_, rest, _ = strings.Cut(after, "[")
		}
	}
	return steps
}
