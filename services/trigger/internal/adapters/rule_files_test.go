package adapters_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/bazgasht/bazgasht/services/trigger/internal/adapters"
	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/rule"
)

const winbackYAML = `# Win-back after 90 days of silence.
id: winback
name: Win-back
description: Churn alert and win-back.
enabled: true
kind: inactivity
period: 90d
conditions:
  - path: profile.commerce.order_count
    op: gte
    values: ["1"]
actions:
  # The message first, then the task.
  - notify:
      channel: sms
  - task:
      reason: churn risk
controls:
  reentry: true
  cap: 1
  cap_window: 180d
`

const surveysYAML = `id: csat-after-ticket
kind: event
on:
  type: ticket.resolved
actions:
  - survey:
      survey: csat-support
      touchpoint: "ticket:{event.ticket_resolved.ticket_id}"
      transactional: true
---
id: csat-after-delivery
kind: delay
on:
  type: order.delivered
delay: 168h
actions:
  - survey:
      survey: csat-delivery
      touchpoint: "order:{event.order_delivered.order_id}"
`

func ruleFilesFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for name, body := range files {
		m[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return m
}

func TestLoadRuleFilesReadsEveryRule(t *testing.T) {
	t.Parallel()
	fsys := ruleFilesFS(map[string]string{
		"rules/a-winback.yaml": strings.Replace(winbackYAML, "      channel: sms\n", "      template: winback\n", 1),
		"rules/b-surveys.yml":  surveysYAML,
		"rules/README.md":      "not a rule",
		"rules/old/x.yaml":     "not: [read",
		"elsewhere.yaml":       "not: [read",
	})
	got, err := adapters.LoadRuleFiles(fsys, "rules")
	if err != nil {
		t.Fatalf("LoadRuleFiles: %v", err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	if strings.Join(ids, " ") != "winback csat-after-ticket csat-after-delivery" {
		t.Fatalf("rule ids = %v, want winback, then both documents of b-surveys.yml in order", ids)
	}
	winback, ticket, delivery := got[0], got[1], got[2]
	if winback.Period.Std() != 90*24*time.Hour || winback.Controls.CapWindow.Std() != 180*24*time.Hour {
		t.Errorf("winback durations = %v, %v; want 90d, 180d", winback.Period, winback.Controls.CapWindow)
	}
	if task := winback.Actions[1].Task; task.Priority != rule.PriorityNormal || task.DueIn != rule.DefaultTaskDueIn {
		t.Errorf("winback task = %+v, want the defaults written out", *task)
	}
	if !ticket.Actions[0].Survey.Transactional || ticket.Actions[0].Survey.Channel != rule.ChannelAuto {
		t.Errorf("ticket survey = %+v, want transactional on channel auto", *ticket.Actions[0].Survey)
	}
	if delivery.Delay.Std() != 7*24*time.Hour {
		t.Errorf("delivery delay = %v, want 7d", delivery.Delay)
	}
}

func TestLoadRuleFilesRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		files map[string]string
		want  []string // the lines of the error, in order
	}{
		{
			name:  "a required field left out, at the line of its parent",
			files: map[string]string{"rules/default/winback.yaml": winbackYAML},
			want:  []string{"rules/default/winback.yaml:14: actions[0].notify.template: is required"},
		},
		{
			name: "an invalid value, at its own line",
			files: map[string]string{"rules/default/winback.yaml": strings.Replace(
				strings.Replace(winbackYAML, "      channel: sms\n", "      template: winback\n      channel: fax\n", 1),
				"reason: churn risk", "reason: churn risk\n      priority: asap", 1)},
			want: []string{
				`rules/default/winback.yaml:16: actions[0].notify.channel: "fax" is not a channel; want one of auto, email, sms, push, webhook`,
				`rules/default/winback.yaml:19: actions[1].task.priority: "asap" is not a priority; want one of low, normal, high, urgent`,
			},
		},
		{
			name: "an unknown field",
			files: map[string]string{"r.yaml": strings.Replace(
				strings.Replace(winbackYAML, "enabled: true\n", "enabled: true\ncolour: red\n", 1),
				"      channel: sms\n", "      channel: sms\n      templte: winback\n", 1)},
			want: []string{
				"rules/r.yaml:6: field 'colour' is not a rule field (it has absent, actions, conditions, controls, correlate, delay, description, enabled, id, kind, name, on, period, segment, stop, updated_at, updated_by, version, within)",
				"rules/r.yaml:17: actions[0].notify: field 'templte' is not a notify field (did you mean 'template'?)",
			},
		},
		{
			name:  "a field given twice",
			files: map[string]string{"r.yaml": "id: a\nkind: event\nid: b\n"},
			want:  []string{"rules/r.yaml:3: field 'id' is given twice (first at line 1)"},
		},
		{
			name:  "the second document of a file, at its line in the file",
			files: map[string]string{"surveys.yaml": strings.Replace(surveysYAML, "delay: 168h", "delay: a week", 1)},
			want:  []string{`rules/surveys.yaml:15: delay: duration "a week": want a duration such as "7d", "168h", "30m" or "1h30m"`},
		},
		{
			name:  "a rule that validates badly in the second document",
			files: map[string]string{"surveys.yaml": strings.Replace(surveysYAML, "delay: 168h\n", "", 1)},
			want:  []string{"rules/surveys.yaml:11: delay: is required for kind delay"},
		},
		{
			name: "an id used twice across files",
			files: map[string]string{
				"rules-a.yaml": surveysYAML,
				"rules-b.yaml": "# copied\n" + strings.SplitN(surveysYAML, "---\n", 2)[1],
			},
			want: []string{`rules/rules-b.yaml:2: id: "csat-after-delivery" is already the id of the rule at rules/rules-a.yaml:11`},
		},
		{
			name:  "a list where a mapping belongs",
			files: map[string]string{"r.yaml": "id: a\nkind: event\non:\n  - type: order.placed\nactions: {}\n"},
			want: []string{
				"rules/r.yaml:4: on: must be a mapping of fields, not a list",
				"rules/r.yaml:5: actions: must be a list, not a mapping",
			},
		},
		{
			name:  "a word where a number belongs",
			files: map[string]string{"r.yaml": "id: a\nkind: event\ncontrols:\n  cap: once\n  reentry: sometimes\n"},
			want: []string{
				`rules/r.yaml:4: controls.cap: must be a whole number, not "once"`,
				`rules/r.yaml:5: controls.reentry: must be true or false, not "sometimes"`,
			},
		},
		{
			name:  "broken YAML",
			files: map[string]string{"r.yaml": "id: a\nkind: event\n  on: order.placed\n"},
			want:  []string{"rules/r.yaml:3: mapping values are not allowed in this context"},
		},
		{
			name:  "a document that is not a mapping",
			files: map[string]string{"r.yaml": "- id: a\n"},
			want:  []string{"rules/r.yaml:1: a rule is a mapping of fields (id: …, kind: …), not a list"},
		},
		{
			name: "one bad file refuses the good ones too",
			files: map[string]string{
				"good.yaml": surveysYAML,
				"bad.yaml":  "id: bad\nkind: event\non:\n  type: order.placed\nactions:\n  - {}\n",
			},
			want: []string{"rules/bad.yaml:6: actions[0]: exactly one of survey, notify, task, webhook, set_trait"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			files := map[string]string{}
			for name, body := range c.files {
				if !strings.HasPrefix(name, "rules/") {
					name = "rules/" + name
				}
				files[name] = body
			}
			dir := "rules"
			if _, ok := files["rules/default/winback.yaml"]; ok {
				dir = "rules/default"
			}
			got, err := adapters.LoadRuleFiles(ruleFilesFS(files), dir)
			if err == nil {
				t.Fatalf("LoadRuleFiles = %d rules, want an error", len(got))
			}
			if got != nil {
				t.Errorf("LoadRuleFiles returned %d rules with its error, want none", len(got))
			}
			if msg := err.Error(); msg != strings.Join(c.want, "\n") {
				t.Fatalf("error =\n%s\nwant\n%s", msg, strings.Join(c.want, "\n"))
			}
			if !errors.Is(err, rule.ErrInvalid) {
				t.Errorf("error %v is not rule.ErrInvalid", err)
			}
			var fileErrs adapters.RuleFileErrors
			if !errors.As(err, &fileErrs) || len(fileErrs) != len(c.want) || fileErrs[0].Line == 0 {
				t.Errorf("error = %#v, want RuleFileErrors with lines", err)
			}
		})
	}
}

func TestLoadRuleFilesWithoutTheDirectory(t *testing.T) {
	t.Parallel()
	_, err := adapters.LoadRuleFiles(fstest.MapFS{}, "rules")
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, rule.ErrInvalid) {
		t.Fatalf("error = %v, want fs.ErrNotExist and not an invalid rule", err)
	}
}

func TestLoadRuleFilesOfAnEmptyDirectory(t *testing.T) {
	t.Parallel()
	got, err := adapters.LoadRuleFiles(ruleFilesFS(map[string]string{"rules/empty.yaml": "# nothing yet\n", "rules/dashes.yaml": "---\n---\n"}), "rules")
	if err != nil || len(got) != 0 {
		t.Fatalf("LoadRuleFiles = %v, %v; want no rules and no error", got, err)
	}
}
