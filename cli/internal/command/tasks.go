package command

import (
	"strings"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	triggerv1 "github.com/bazgasht/bazgasht/gen/cx/trigger/v1"
)

func tasks(e *env, args []string) error {
	state := ""
	pos, err := e.flags("tasks", args, func(fs *flagSet) { fs.StringVar(&state, "state", "", "open, claimed or done (all when empty)") })
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("takes no arguments")
	}
	req := &triggerv1.ListTasksRequest{Tenant: e.tenant, PageSize: 500}
	if state != "" {
		v, ok := triggerv1.TaskState_value["TASK_STATE_"+strings.ToUpper(state)]
		if !ok {
			return usagef("-state %q: want open, claimed or done", state)
		}
		req.State = triggerv1.TaskState(v)
	}
	conn, err := e.conn(e.trigger)
	if err != nil {
		return err
	}
	ctx, cancel := e.rpcCtx()
	defer cancel()
	// Every page: a long queue is not cut at the first 500.
	all := &triggerv1.ListTasksResponse{}
	for {
		resp, err := triggerv1.NewTriggerServiceClient(conn).ListTasks(ctx, req)
		if err != nil {
			return err
		}
		all.Tasks = append(all.Tasks, resp.GetTasks()...)
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	if e.json {
		return e.printJSON(all)
	}
	rows := make([][]string, 0, len(all.GetTasks()))
	for _, t := range all.GetTasks() {
		rows = append(rows, []string{t.GetTaskId(), trimEnum(t.GetPriority().String(), "TASK_PRIORITY_"), trimEnum(t.GetState().String(), "TASK_STATE_"),
			stamp(t.GetDueAt().AsTime()), identityOf(t.GetCustomer()), t.GetAssignee(), t.GetRuleId(), t.GetReason(), t.GetOutcome()})
	}
	e.table([]string{"TASK", "PRIORITY", "STATE", "DUE", "CUSTOMER", "ASSIGNEE", "RULE", "REASON", "OUTCOME"}, rows)
	return nil
}

// identityOf names a customer as the profile command takes it, by their
// most authoritative identity, so an agent can look them up.
func identityOf(c *journeyv1.Customer) string {
	switch {
	case c.GetCustomerId() != "":
		return "customer:" + c.GetCustomerId()
	case c.GetEmail() != "":
		return "email:" + c.GetEmail()
	case c.GetPhone() != "":
		return "phone:" + c.GetPhone()
	case c.GetAnonymousId() != "":
		return "anon:" + c.GetAnonymousId()
	}
	return "–"
}

func complete(e *env, args []string) error {
	var assignee, outcome string
	pos, err := e.flags("complete", args, func(fs *flagSet) {
		fs.StringVar(&assignee, "assignee", "", "the agent completing it (required)")
		fs.StringVar(&outcome, "outcome", "", "what was done")
	})
	if err != nil {
		return err
	}
	if len(pos) != 1 || assignee == "" {
		return usagef("give one TASK_ID and -assignee")
	}
	conn, err := e.conn(e.trigger)
	if err != nil {
		return err
	}
	ctx, cancel := e.rpcCtx()
	defer cancel()
	resp, err := triggerv1.NewTriggerServiceClient(conn).CompleteTask(ctx, &triggerv1.CompleteTaskRequest{Tenant: e.tenant, TaskId: pos[0], Assignee: assignee, Outcome: outcome})
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(resp)
	}
	t := resp.GetTask()
	e.table([]string{"TASK", "STATE", "ASSIGNEE", "COMPLETED"}, [][]string{{t.GetTaskId(), trimEnum(t.GetState().String(), "TASK_STATE_"), t.GetAssignee(), stamp(t.GetCompletedAt().AsTime())}})
	return nil
}
