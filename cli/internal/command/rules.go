package command

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	triggerv1 "github.com/bazgasht/bazgasht/gen/cx/trigger/v1"
)

func rules(e *env, args []string) error {
	args, err := e.flags("rules", args, nil)
	if err != nil {
		return err
	}
	if len(args) != 0 {
		return usagef("takes no arguments")
	}
	conn, err := e.conn(e.trigger)
	if err != nil {
		return err
	}
	ctx, cancel := e.rpcCtx()
	defer cancel()
	resp, err := triggerv1.NewTriggerServiceClient(conn).ListRules(ctx, &triggerv1.ListRulesRequest{Tenant: e.tenant, PageSize: 500})
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(resp)
	}
	rows := make([][]string, 0, len(resp.GetRules()))
	for _, r := range resp.GetRules() {
		kind := "?"
		switch r.GetWhen().(type) {
		case *triggerv1.Rule_OnEvent:
			kind = "event"
		case *triggerv1.Rule_AfterDelay:
			kind = "delay"
		case *triggerv1.Rule_Absence:
			kind = "absence"
		case *triggerv1.Rule_Inactivity:
			kind = "inactivity"
		case *triggerv1.Rule_SegmentEntry:
			kind = "segment"
		}
		on := "enabled"
		if !r.GetEnabled() {
			on = "disabled"
		}
		rows = append(rows, []string{r.GetRuleId(), fmt.Sprint(r.GetVersion()), kind, on, r.GetName()})
	}
	e.table([]string{"RULE", "VERSION", "KIND", "STATE", "NAME"}, rows)
	return nil
}

func backtest(e *env, args []string) error {
	var from, to string
	pos, err := e.flags("backtest", args, func(fs *flagSet) {
		fs.StringVar(&from, "from", "", "start, YYYY-MM-DD (30 days ago when empty)")
		fs.StringVar(&to, "to", "", "end, YYYY-MM-DD (now when empty)")
	})
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("give one RULE_ID")
	}
	end := time.Now()
	start := end.AddDate(0, 0, -30)
	if from != "" {
		if start, err = time.Parse(time.DateOnly, from); err != nil {
			return usagef("-from %q: want YYYY-MM-DD", from)
		}
	}
	if to != "" {
		if end, err = time.Parse(time.DateOnly, to); err != nil {
			return usagef("-to %q: want YYYY-MM-DD", to)
		}
	}
	conn, err := e.conn(e.trigger)
	if err != nil {
		return err
	}
	ctx, cancel := e.rpcCtx()
	defer cancel()
	resp, err := triggerv1.NewTriggerServiceClient(conn).BacktestRule(ctx, &triggerv1.BacktestRuleRequest{Tenant: e.tenant,
		Subject: &triggerv1.BacktestRuleRequest_RuleId{RuleId: pos[0]}, StartTime: timestamppb.New(start), EndTime: timestamppb.New(end)})
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(resp)
	}
	e.table([]string{"RULE", "EVENTS REPLAYED", "FIRINGS", "HELD BACK", "CUSTOMERS"}, [][]string{{pos[0], fmt.Sprint(resp.GetEventsReplayed()),
		fmt.Sprint(resp.GetFirings()), fmt.Sprint(resp.GetSuppressed()), fmt.Sprint(resp.GetCustomers())}})
	return nil
}
