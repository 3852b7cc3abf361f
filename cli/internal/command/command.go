// Package command is the bazgasht command line: global flags, one
// function per command, tables or JSON out, and exit codes scripts can rely
// on (0 done, 1 the services said no or could not be reached, 2 the command
// line itself is wrong).
package command

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailed  = 1
	ExitUsage   = 2
	usageHeader = `bazgasht — the command line of a Bazgasht shop

Usage: bazgasht [global flags] <command> [flags] [arguments]
       bazgasht <command> -h      the command's own flags

Commands:
`
	globalHeader = `
Global flags, before or after the command (also from the environment: BAZGASHT_TENANT,
BAZGASHT_API, BAZGASHT_API_KEY, NATS_URL):
`
)

// synopses are the commands' one-line usage, in the order listed.
var synopses = []struct{ name, args, what string }{
	{"send", "FILE|-|JSON", `send an event, a JSON array of events or {"events":[...]} (stdin with -)`},
	{"profile", "IDENTITY", "a customer's profile (IDENTITY: customer:ID, email:ADDR, phone:NUMBER, anon:ID or a profile id)"},
	{"timeline", "IDENTITY", "the customer's journey, newest first"},
	{"tasks", "", "follow-up tasks for agents, most urgent first"},
	{"complete", "TASK_ID", "complete a task"},
	{"rules", "", "the tenant's rules"},
	{"backtest", "RULE_ID", "how often a rule would have fired over the stored journey"},
	{"kpis", "", "NPS, CSAT, CES, repeat purchase and retention by cohort for a period"},
	{"tail", "", "journey events as they arrive"},
}

// helpShown is a command's -h: its usage is printed, exit 0.
type helpShown struct{ text string }

func (h helpShown) Error() string { return h.text }

// usageError is a command line that cannot run: exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// env is what every command gets: where the services are, the tenant, and
// how to print.
type env struct {
	ctx     context.Context
	tenant  string
	api     string
	apiKey  string
	profile string
	trigger string
	survey  string
	nats    string
	json    bool
	output  string
	in      io.Reader
	out     io.Writer
	conns   map[string]*grpc.ClientConn
}

type commandFunc func(e *env, args []string) error

var commands = map[string]commandFunc{
	"send": send, "profile": profileCmd, "timeline": timeline, "tasks": tasks, "complete": complete,
	"rules": rules, "backtest": backtest, "kpis": kpis, "tail": tail,
}

// Run runs one command line and returns its exit code.
func Run(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	fs := flag.NewFlagSet("bazgasht", flag.ContinueOnError)
	fs.SetOutput(errOut)
	e := &env{ctx: ctx, in: in, out: out, conns: map[string]*grpc.ClientConn{}}
	e.globalFlags(fs)
	usage := func(w io.Writer) {
		fmt.Fprint(w, usageHeader)
		for _, c := range synopses {
			fmt.Fprintf(w, "  %-26s %s\n", strings.TrimSpace(c.name+" "+c.args), c.what)
		}
		fmt.Fprint(w, globalHeader)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(errOut)
	}
	fs.Usage = func() {} // asked for, help goes to stdout; after a mistake, to stderr
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(out)
			return ExitOK
		}
		usage(errOut)
		return ExitUsage
	}
	if err := e.checkOutput(); err != nil {
		fmt.Fprintf(errOut, "bazgasht: %v\n", err)
		return ExitUsage
	}
	if fs.NArg() == 0 {
		usage(errOut)
		return ExitUsage
	}
	run, ok := commands[fs.Arg(0)]
	if !ok {
		fmt.Fprintf(errOut, "bazgasht: unknown command %q (bazgasht -h lists them)\n", fs.Arg(0))
		return ExitUsage
	}
	defer func() {
		for _, c := range e.conns {
			c.Close()
		}
	}()
	err := run(e, fs.Args()[1:])
	var ue usageError
	var help helpShown
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &help):
		fmt.Fprint(out, help.text)
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(errOut, "bazgasht %s: %s\n", fs.Arg(0), ue.msg)
		return ExitUsage
	}
	if st, ok := status.FromError(err); ok {
		err = fmt.Errorf("%s: %s", words(st.Code().String()), st.Message())
	}
	fmt.Fprintf(errOut, "bazgasht %s: %v\n", fs.Arg(0), err)
	return ExitFailed
}

// conn dials a service once per run.
func (e *env) conn(addr string) (*grpc.ClientConn, error) {
	if c, ok := e.conns[addr]; ok {
		return c, nil
	}
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	e.conns[addr] = c
	return c, nil
}

// rpcCtx bounds one call.
func (e *env) rpcCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.ctx, 15*time.Second)
}

// printJSON writes messages as JSON (proto field names), one document.
func (e *env) printJSON(m proto.Message) error {
	b, err := protojson.MarshalOptions{UseProtoNames: true, Multiline: true, Indent: "  "}.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(e.out, string(b))
	return err
}

// table prints rows under a header, aligned.
func (e *env) table(header []string, rows [][]string) {
	w := tabwriter.NewWriter(e.out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	w.Flush()
}

// globalFlags defines the flags every command takes, on fs.
func (e *env) globalFlags(fs *flag.FlagSet) {
	// Defined twice (before the command and after it), so each keeps what
	// the first parse set.
	fs.StringVar(&e.tenant, "tenant", cmp.Or(e.tenant, os.Getenv("BAZGASHT_TENANT"), "demo"), "the shop")
	fs.StringVar(&e.api, "api", cmp.Or(e.api, os.Getenv("BAZGASHT_API"), "http://127.0.0.1:8080"), "ingest HTTP API")
	// The key's default is not shown in help: it is a secret.
	fs.Func("key", "the tenant's API key, for send (default: $BAZGASHT_API_KEY)", func(v string) error { e.apiKey = v; return nil })
	if e.apiKey == "" {
		e.apiKey = os.Getenv("BAZGASHT_API_KEY")
	}
	fs.StringVar(&e.profile, "profile-addr", cmp.Or(e.profile, "127.0.0.1:9081"), "profile service gRPC")
	fs.StringVar(&e.trigger, "trigger-addr", cmp.Or(e.trigger, "127.0.0.1:9082"), "trigger service gRPC")
	fs.StringVar(&e.survey, "survey-addr", cmp.Or(e.survey, "127.0.0.1:9083"), "survey service gRPC")
	fs.StringVar(&e.nats, "nats", cmp.Or(e.nats, os.Getenv("NATS_URL"), "nats://127.0.0.1:4250"), "NATS, for tail")
	fs.StringVar(&e.output, "o", cmp.Or(e.output, "table"), "output: table or json")
}

// checkOutput reads -o.
func (e *env) checkOutput() error {
	switch e.output {
	case "table":
		e.json = false
	case "json":
		e.json = true
	default:
		return fmt.Errorf("-o %q: want table or json", e.output)
	}
	return nil
}

// flagSet is a command's own flags.
type flagSet = flag.FlagSet

// flags parses a command's own flags (define may be nil) and the global
// ones, which may come after the command too; positional arguments may
// come before or after them. -h returns the command's usage.
func (e *env) flags(name string, args []string, define func(fs *flag.FlagSet)) ([]string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var own strings.Builder
	for _, c := range synopses {
		if c.name == name {
			fmt.Fprintf(&own, "Usage: bazgasht [global flags] %s\n\n%s\n", strings.TrimSpace(c.name+" [flags] "+c.args), c.what)
		}
	}
	if define != nil {
		define(fs)
		fs.SetOutput(&own)
		own.WriteString("\nFlags:\n")
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	own.WriteString("\nGlobal flags (bazgasht -h): -tenant, -o, -api, -key, -profile-addr, -trigger-addr, -survey-addr, -nats\n")
	e.globalFlags(fs)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, helpShown{own.String()}
			}
			return nil, usagef("%v (bazgasht %s -h lists its flags)", err, name)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if err := e.checkOutput(); err != nil {
		return nil, usageError{err.Error()}
	}
	return pos, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

// words turns a gRPC code name ("NotFound") into words ("not found").
func words(code string) string {
	var b strings.Builder
	for i, r := range code {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return strings.ToLower(b.String())
}

func trimEnum(s, prefix string) string { return strings.ToLower(strings.TrimPrefix(s, prefix)) }
