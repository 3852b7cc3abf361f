package e2e_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/platform/poll"
)

// cli runs the bazgasht command line against the system and returns its
// output and exit code.
func (s *system) cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	all := append([]string{"-tenant", tenant, "-api", s.api, "-key", apiKey, "-nats", s.nats.URL,
		"-profile-addr", s.profileAddr, "-trigger-addr", s.triggerAddr, "-survey-addr", s.surveyAddr}, args...)
	cmd := exec.Command(*bins["bazgasht"], all...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// The command line a CX team and a script use: events from a file (a bad
// one named by field, exit 1), the profile as a table and as JSON, tasks,
// rules, a backtest, KPIs with Jalali labels, the tail of the stream, and
// usage errors with exit 2.
func TestCommandLine(t *testing.T) {
	s := start(t)
	file := filepath.Join(t.TempDir(), "events.json")
	events := `[
	 {"id":"cli-1","type":"order.placed","customer":{"customer_id":"c-cli"},"order_placed":{"order_id":"77","total":{"currency":"IRT","amount":"500000"}}},
	 {"id":"cli-2","type":"order.placed","customer":{"customer_id":"c-cli"},"order_placed":{"order_id":"78"}}
	]`
	if err := os.WriteFile(file, []byte(events), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := s.cli(t, "send", file)
	if code != 1 || !strings.Contains(out, "accepted") || !strings.Contains(out, "order_placed.total") || !strings.Contains(errOut, "1 of 2 events not stored") {
		t.Fatalf("send: exit %d\n%s%s", code, out, errOut)
	}

	poll.Until(t, 15*time.Second, "the profile through the CLI", func() bool {
		out, _, code := s.cli(t, "profile", "customer:c-cli")
		return code == 0 && strings.Contains(out, "orders") && strings.Contains(out, "revenue IRT") && strings.Contains(out, "500000")
	})
	out, _, code = s.cli(t, "profile", "customer:c-cli", "-o", "json") // global flags go after the command too
	var p struct {
		Commerce struct {
			OrderCount string `json:"order_count"`
		} `json:"commerce"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil || p.Commerce.OrderCount != "1" {
		t.Fatalf("profile -o json: exit %d, %q", code, out)
	}
	if out, _, code := s.cli(t, "timeline", "customer:c-cli"); code != 0 || !strings.Contains(out, "order.placed") {
		t.Fatalf("timeline: exit %d\n%s", code, out)
	}
	if out, _, code := s.cli(t, "rules"); code != 0 || !strings.Contains(out, "csat-after-delivery") || !strings.Contains(out, "delay") {
		t.Fatalf("rules: exit %d\n%s", code, out)
	}
	if out, _, code := s.cli(t, "backtest", "big-order-thanks"); code != 0 || !strings.Contains(out, "EVENTS REPLAYED") {
		t.Fatalf("backtest: exit %d\n%s", code, out)
	}
	if out, _, code := s.cli(t, "tasks", "-state", "open"); code != 0 || !strings.Contains(out, "PRIORITY") {
		t.Fatalf("tasks: exit %d\n%s", code, out)
	}
	// KPIs by Jalali month: the labels are Jalali.
	if out, errOut, code := s.cli(t, "kpis", "-by", "month", "-calendar", "jalali"); code != 0 || !strings.Contains(out, "NPS") || !strings.Contains(out, "total") {
		t.Fatalf("kpis: exit %d\n%s%s", code, out, errOut)
	}
	// In Persian: headings, Persian digits, Jalali months by name.
	if out, errOut, code := s.cli(t, "kpis", "-by", "month", "-calendar", "jalali", "-lang", "fa"); code != 0 || !strings.Contains(out, "دوره") ||
		!strings.Contains(out, "کل") || !strings.ContainsAny(out, "۰۱۲۳۴۵۶۷۸۹") || strings.ContainsAny(strings.SplitN(out, "\n", 2)[1], "0123456789") {
		t.Fatalf("kpis -lang fa: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, code := s.cli(t, "-o", "json", "kpis", "-calendar", "jalali"); code != 0 || !strings.Contains(out, `"label"`) {
		t.Fatalf("kpis -o json: exit %d\n%s", code, out)
	}
	if out, _, code := s.cli(t, "tail", "-last", "1", "-count", "1", "-type", "order.placed"); code != 0 || !strings.Contains(out, "cli-1") {
		t.Fatalf("tail: exit %d\n%s", code, out)
	}
	for _, bad := range [][]string{{"profile", "nobody"}, {"kpis", "-by", "fortnight"}, {"frobnicate"}, {"-o", "yaml", "rules"}} {
		if _, errOut, code := s.cli(t, bad...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, %q; want 2 and a message", bad, code, errOut)
		}
	}
	if _, errOut, code := s.cli(t, "complete", "no-such-task", "-assignee", "ali"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("complete of an unknown task: exit %d, %q; want 1 and not found", code, errOut)
	}
}
