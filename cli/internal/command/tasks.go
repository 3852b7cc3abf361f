package command

import (
	"strings"

	triggerv1 "github.com/bazgasht/bazgasht/gen/cx/trigger/v1"
)

func tasks(e *env, args []string) error {
	state := ""
	pos, err := flags("tasks", args, func(fs *flagSet) { fs.StringVar(&state, "state", "", "open, claimed or done (all when empty)") })
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
	resp, err := triggerv1.NewTriggerServiceClient(conn).ListTasks(ctx, req)
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(resp)
	}
	rows := make([][]string, 0, len(resp.GetTasks()))
	for _, t := range resp.GetTasks() {
		rows = append(rows, []string{t.GetTaskId(), trimEnum(t.GetPriority().String(), "TASK_PRIORITY_"), trimEnum(t.GetState().String(), "TASK_STATE_"),
			stamp(t.GetDueAt().AsTime()), t.GetAssignee(), t.GetRuleId(), t.GetReason()})
	}
	e.table([]string{"TASK", "PRIORITY", "STATE", "DUE", "ASSIGNEE", "RULE", "REASON"}, rows)
	return nil
}

func complete(e *env, args []string) error {
	var assignee, outcome string
	pos, err := flags("complete", args, func(fs *flagSet) {
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
