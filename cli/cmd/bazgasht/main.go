// Command bazgasht is the command line for people who run a Bazgasht shop:
// send events, read a profile and its timeline, work the follow-up tasks,
// list and backtest rules, read the KPIs with Jalali or Gregorian labels,
// and tail the journey stream. Tables for people, -o json for scripts.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/bazgasht/bazgasht/cli/internal/command"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := command.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
