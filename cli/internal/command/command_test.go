package command_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/bazgasht/bazgasht/cli/internal/command"
)

func run(args ...string) (string, string, int) {
	var out, errOut bytes.Buffer
	code := command.Run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), code
}

// Help is asked for with -h, at the top or for one command; it exits 0,
// lists what a person needs, and never prints the API key.
func TestHelp(t *testing.T) {
	t.Setenv("BAZGASHT_API_KEY", "bzk_secret_do_not_print")
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"-h"}, []string{"Commands:", "profile IDENTITY", "kpis", "-tenant", "-o", "$BAZGASHT_API_KEY"}},
		{[]string{"profile", "-h"}, []string{"bazgasht [global flags] profile [flags] IDENTITY", "customer:ID"}},
		{[]string{"send", "-h"}, []string{"send [flags] FILE|-|JSON"}},
		{[]string{"timeline", "-h"}, []string{"-limit", "most events shown"}},
		{[]string{"tasks", "-help"}, []string{"-state"}},
		{[]string{"kpis", "-h"}, []string{"Flags:", "Global flags"}},
	}
	for _, tc := range tests {
		out, errOut, code := run(tc.args...)
		if code != command.ExitOK {
			t.Errorf("%v: exit %d, want 0 (stderr %q)", tc.args, code, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: help lacks %q:\n%s", tc.args, w, out)
			}
		}
		if strings.Contains(out+errOut, "bzk_secret_do_not_print") {
			t.Errorf("%v: help printed the API key", tc.args)
		}
	}
}

// Global flags work after the command as before it, and a wrong one is a
// usage error (exit 2) naming it, before any service is called.
func TestGlobalFlagsAfterTheCommand(t *testing.T) {
	for _, args := range [][]string{
		{"profile", "customer:c-1", "-o", "yaml"},
		{"-o", "yaml", "profile", "customer:c-1"},
		{"tail", "-type", "order.placed", "-o", "yaml"},
	} {
		_, errOut, code := run(args...)
		if code != command.ExitUsage || !strings.Contains(errOut, `-o "yaml"`) {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming -o", args, code, errOut)
		}
	}
	if _, errOut, code := run("profile", "bogus:1", "-o", "json", "-tenant", "shop"); code != command.ExitUsage || !strings.Contains(errOut, "identity kind") {
		t.Errorf("profile with a bad identity and global flags after it: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := run("kpis", "-lang", "de"); code != command.ExitUsage || !strings.Contains(errOut, "-lang") {
		t.Errorf("kpis -lang de: exit %d, stderr %q; want 2 naming -lang", code, errOut)
	}
	if _, errOut, code := run("rules", "-nope"); code != command.ExitUsage || !strings.Contains(errOut, "rules -h") {
		t.Errorf("an unknown flag: exit %d, stderr %q; want 2 pointing at rules -h", code, errOut)
	}
	// After a mistake the usage goes to stderr: stdout stays clean for pipes.
	for _, args := range [][]string{{"-bogus"}, {}} {
		if out, errOut, code := run(args...); code != command.ExitUsage || out != "" || !strings.Contains(errOut, "Commands:") {
			t.Errorf("%v: exit %d, stdout %q, stderr %.60q; want 2, nothing on stdout, the usage on stderr", args, code, out, errOut)
		}
	}
}
