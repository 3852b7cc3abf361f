package task_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/task"
)

var t0 = time.Date(2025, 3, 21, 9, 0, 0, 0, time.UTC)

func spec() task.Spec {
	return task.Spec{
		Tenant:       "shop",
		Customer:     task.Customer{CustomerID: "c-1", Email: "sara@example.com"},
		Reason:       "Detractor (score 3) after order 1001: call back today",
		RuleID:       "detractor-callback",
		RuleVersion:  2,
		CauseEventID: "evt-42",
		Priority:     task.Urgent,
		DueIn:        4 * time.Hour,
	}
}

func newTask(t *testing.T, s task.Spec) *task.Task {
	t.Helper()
	tk, err := task.New(s, t0)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tk
}

func TestNew(t *testing.T) {
	t.Parallel()
	tk := newTask(t, spec())
	want := task.Task{
		ID:           task.IDFor("shop", "detractor-callback", "evt-42"),
		Tenant:       "shop",
		Customer:     task.Customer{CustomerID: "c-1", Email: "sara@example.com"},
		Reason:       "Detractor (score 3) after order 1001: call back today",
		RuleID:       "detractor-callback",
		RuleVersion:  2,
		CauseEventID: "evt-42",
		Priority:     task.Urgent,
		State:        task.Open,
		CreatedAt:    t0,
		DueAt:        t0.Add(4 * time.Hour),
	}
	if *tk != want {
		t.Errorf("New =\n%+v\nwant\n%+v", *tk, want)
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	s := spec()
	s.Priority, s.DueIn = "", 0
	tk := newTask(t, s)
	if tk.Priority != task.Normal {
		t.Errorf("priority = %q, want normal", tk.Priority)
	}
	if want := t0.Add(task.DefaultDueIn); !tk.DueAt.Equal(want) {
		t.Errorf("due at %v, want %v (24 hours after creation)", tk.DueAt, want)
	}
}

func TestNewWithAssigneeIsClaimed(t *testing.T) {
	t.Parallel()
	s := spec()
	s.Assignee = "agent-ali"
	tk := newTask(t, s)
	if tk.State != task.Claimed || tk.Assignee != "agent-ali" || !tk.ClaimedAt.Equal(t0) {
		t.Errorf("state %q, assignee %q, claimed at %v; want claimed by agent-ali at %v", tk.State, tk.Assignee, tk.ClaimedAt, t0)
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		change func(*task.Spec)
		field  string
	}{
		{"no tenant", func(s *task.Spec) { s.Tenant = "" }, "tenant"},
		{"no rule", func(s *task.Spec) { s.RuleID = "" }, "rule_id"},
		{"no cause event", func(s *task.Spec) { s.CauseEventID = "" }, "cause_event_id"},
		{"no customer identity", func(s *task.Spec) { s.Customer = task.Customer{} }, "customer"},
		{"blank reason", func(s *task.Spec) { s.Reason = "  " }, "reason"},
		{"reason too long", func(s *task.Spec) { s.Reason = strings.Repeat("x", task.MaxTextLen+1) }, "reason"},
		{"unknown priority", func(s *task.Spec) { s.Priority = "critical" }, "priority"},
		{"negative SLA", func(s *task.Spec) { s.DueIn = -time.Hour }, "due_in"},
		{"assignee too long", func(s *task.Spec) { s.Assignee = strings.Repeat("a", task.MaxAssigneeLen+1) }, "assignee"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := spec()
			c.change(&s)
			_, err := task.New(s, t0)
			assertField(t, err, c.field)
		})
	}
}

func assertField(t *testing.T, err error, field string) {
	t.Helper()
	var fe *task.FieldError
	if !errors.As(err, &fe) || !errors.Is(err, task.ErrInvalid) {
		t.Fatalf("error %v, want a *FieldError wrapping ErrInvalid", err)
	}
	if fe.Field != field {
		t.Errorf("error names field %q, want %q (%v)", fe.Field, field, err)
	}
}

func TestIDFor(t *testing.T) {
	t.Parallel()
	id := task.IDFor("shop", "rule", "evt")
	cases := []struct {
		name                string
		tenant, rule, event string
		same                bool
	}{
		{"retried firing", "shop", "rule", "evt", true},
		{"other tenant", "shop2", "rule", "evt", false},
		{"other rule", "shop", "rule2", "evt", false},
		{"other event", "shop", "rule", "evt2", false},
		{"same bytes split differently", "shopr", "ule", "evt", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := task.IDFor(c.tenant, c.rule, c.event)
			if (got == id) != c.same {
				t.Errorf("IDFor(%q, %q, %q) = %s, IDFor(shop, rule, evt) = %s; same = %v, want %v", c.tenant, c.rule, c.event, got, id, got == id, c.same)
			}
		})
	}
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Errorf("id %q is not 32 lower-case hex digits (a key token)", id)
	}
}

func TestClaim(t *testing.T) {
	t.Parallel()
	later := t0.Add(time.Hour)
	cases := []struct {
		name      string
		setup     func(*task.Task)
		assignee  string
		wantErr   error
		wantState task.State
		wantBy    string
		claimedAt time.Time
	}{
		{"open task", func(*task.Task) {}, "ali", nil, task.Claimed, "ali", later},
		{"held by the same agent", func(tk *task.Task) { _ = tk.Claim("ali", t0) }, "ali", nil, task.Claimed, "ali", t0},
		{"held by another agent", func(tk *task.Task) { _ = tk.Claim("ali", t0) }, "bahar", task.ErrHeldByOther, task.Claimed, "ali", t0},
		{"done", func(tk *task.Task) { _ = tk.Complete("ali", "called", t0) }, "ali", task.ErrAlreadyDone, task.Done, "ali", time.Time{}},
		{"no assignee", func(*task.Task) {}, "", task.ErrInvalid, task.Open, "", time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tk := newTask(t, spec())
			c.setup(tk)
			err := tk.Claim(c.assignee, later)
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
				t.Fatalf("Claim(%q) = %v, want %v", c.assignee, err, c.wantErr)
			}
			if tk.State != c.wantState || tk.Assignee != c.wantBy || !tk.ClaimedAt.Equal(c.claimedAt) {
				t.Errorf("after Claim: state %q, assignee %q, claimed at %v; want %q, %q, %v",
					tk.State, tk.Assignee, tk.ClaimedAt, c.wantState, c.wantBy, c.claimedAt)
			}
		})
	}
}

func TestClaimByOtherNamesHolder(t *testing.T) {
	t.Parallel()
	tk := newTask(t, spec())
	_ = tk.Claim("ali", t0)
	err := tk.Claim("bahar", t0)
	if err == nil || !strings.Contains(err.Error(), "ali") {
		t.Errorf("error %v does not say who holds the task", err)
	}
}

func TestComplete(t *testing.T) {
	t.Parallel()
	later := t0.Add(time.Hour)
	cases := []struct {
		name        string
		setup       func(*task.Task)
		assignee    string
		outcome     string
		wantErr     error
		wantState   task.State
		wantBy      string
		wantOutcome string
		completedAt time.Time
	}{
		{"claimed by the agent", func(tk *task.Task) { _ = tk.Claim("ali", t0) }, "ali", "refunded", nil, task.Done, "ali", "refunded", later},
		{"open task", func(*task.Task) {}, "bahar", "called back", nil, task.Done, "bahar", "called back", later},
		{"claimed by another agent", func(tk *task.Task) { _ = tk.Claim("ali", t0) }, "bahar", "x", task.ErrHeldByOther, task.Claimed, "ali", "", time.Time{}},
		{"done before", func(tk *task.Task) { _ = tk.Complete("ali", "first", t0) }, "ali", "second", task.ErrAlreadyDone, task.Done, "ali", "first", t0},
		{"no assignee", func(*task.Task) {}, "", "x", task.ErrInvalid, task.Open, "", "", time.Time{}},
		{"outcome too long", func(*task.Task) {}, "ali", strings.Repeat("x", task.MaxTextLen+1), task.ErrInvalid, task.Open, "", "", time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tk := newTask(t, spec())
			c.setup(tk)
			err := tk.Complete(c.assignee, c.outcome, later)
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
				t.Fatalf("Complete(%q) = %v, want %v", c.assignee, err, c.wantErr)
			}
			if tk.State != c.wantState || tk.Assignee != c.wantBy || tk.Outcome != c.wantOutcome || !tk.CompletedAt.Equal(c.completedAt) {
				t.Errorf("after Complete: state %q, assignee %q, outcome %q, completed at %v; want %q, %q, %q, %v",
					tk.State, tk.Assignee, tk.Outcome, tk.CompletedAt, c.wantState, c.wantBy, c.wantOutcome, c.completedAt)
			}
		})
	}
}

func TestOverdue(t *testing.T) {
	t.Parallel()
	due := t0.Add(4 * time.Hour)
	cases := []struct {
		name string
		done bool
		now  time.Time
		want bool
	}{
		{"before due", false, due.Add(-time.Minute), false},
		{"at due", false, due, false},
		{"after due", false, due.Add(time.Minute), true},
		{"done after due", true, due.Add(time.Hour), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tk := newTask(t, spec())
			if c.done {
				_ = tk.Complete("ali", "ok", due.Add(time.Minute))
			}
			if got := tk.Overdue(c.now); got != c.want {
				t.Errorf("Overdue(%v) = %v, want %v", c.now, got, c.want)
			}
		})
	}
}

func TestFilterMatches(t *testing.T) {
	t.Parallel()
	tk := newTask(t, spec()) // urgent
	_ = tk.Claim("ali", t0)
	cases := []struct {
		name   string
		filter task.Filter
		want   bool
	}{
		{"empty filter", task.Filter{}, true},
		{"state", task.Filter{State: task.Claimed}, true},
		{"other state", task.Filter{State: task.Open}, false},
		{"priority", task.Filter{Priority: task.Urgent}, true},
		{"other priority", task.Filter{Priority: task.Low}, false},
		{"assignee", task.Filter{Assignee: "ali"}, true},
		{"other assignee", task.Filter{Assignee: "bahar"}, false},
		{"all fields", task.Filter{State: task.Claimed, Priority: task.Urgent, Assignee: "ali"}, true},
		{"one field off", task.Filter{State: task.Claimed, Priority: task.High, Assignee: "ali"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := c.filter.Matches(tk); got != c.want {
				t.Errorf("%+v.Matches = %v, want %v", c.filter, got, c.want)
			}
		})
	}
}

// tasks returns tasks named by their rule id, with the given priorities and
// due offsets in hours.
func tasks(t *testing.T, defs ...string) []task.Task {
	t.Helper()
	var out []task.Task
	for _, d := range defs {
		var name string
		var prio task.Priority
		var hours int
		if _, err := fmt.Sscanf(d, "%s %s %d", &name, &prio, &hours); err != nil {
			t.Fatalf("task %q: %v", d, err)
		}
		s := spec()
		s.RuleID, s.CauseEventID, s.Priority, s.DueIn = name, name, prio, time.Duration(hours)*time.Hour
		out = append(out, *newTask(t, s))
	}
	return out
}

func names(ts []task.Task) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.RuleID)
	}
	return out
}

func TestPageOrder(t *testing.T) {
	t.Parallel()
	all := tasks(t,
		"low-soon low 1",
		"normal-late normal 48",
		"urgent-late urgent 24",
		"high-soon high 2",
		"urgent-soon urgent 1",
		"normal-soon normal 3",
	)
	got, next, err := task.Page(all, task.Filter{}, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"urgent-soon", "urgent-late", "high-soon", "normal-soon", "normal-late", "low-soon"}
	if strings.Join(names(got), " ") != strings.Join(want, " ") || next != "" {
		t.Errorf("Page = %v, next %q; want %v and no next page", names(got), next, want)
	}
}

func TestPageTiesByID(t *testing.T) {
	t.Parallel()
	all := tasks(t, "a normal 5", "b normal 5", "c normal 5", "d normal 5")
	got, _, err := task.Page(all, task.Filter{}, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(got); i++ {
		if got[i-1].ID >= got[i].ID {
			t.Errorf("tasks due together are not ordered by id: %s before %s", got[i-1].ID, got[i].ID)
		}
	}
}

func TestPageWalk(t *testing.T) {
	t.Parallel()
	all := tasks(t,
		"u1 urgent 1", "u2 urgent 2", "h1 high 1", "h2 high 2", "n1 normal 1",
		"n2 normal 2", "n3 normal 3", "l1 low 1",
	)
	cases := []struct {
		name     string
		filter   task.Filter
		pageSize int
		want     [][]string
	}{
		{"pages of three", task.Filter{}, 3, [][]string{{"u1", "u2", "h1"}, {"h2", "n1", "n2"}, {"n3", "l1"}}},
		{"exact pages", task.Filter{}, 4, [][]string{{"u1", "u2", "h1", "h2"}, {"n1", "n2", "n3", "l1"}}},
		{"filtered", task.Filter{Priority: task.Normal}, 2, [][]string{{"n1", "n2"}, {"n3"}}},
		{"nothing matches", task.Filter{State: task.Done}, 2, [][]string{nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var pages [][]string
			token := ""
			for {
				page, next, err := task.Page(all, c.filter, c.pageSize, token)
				if err != nil {
					t.Fatal(err)
				}
				pages = append(pages, names(page))
				if next == "" {
					break
				}
				if len(pages) > 10 {
					t.Fatal("paging does not end")
				}
				token = next
			}
			if fmt.Sprint(pages) != fmt.Sprint(c.want) {
				t.Errorf("pages %v, want %v", pages, c.want)
			}
		})
	}
}

func TestPageSurvivesChangesBetweenPages(t *testing.T) {
	t.Parallel()
	all := tasks(t, "a urgent 1", "b high 1", "c normal 1", "d low 1")
	first, next, err := task.Page(all, task.Filter{State: task.Open}, 2, "")
	if err != nil || strings.Join(names(first), " ") != "a b" {
		t.Fatalf("first page %v, %v; want a b", names(first), err)
	}
	// Between pages the first task is completed and a new urgent one
	// arrives: neither shifts the rest.
	_ = all[0].Complete("ali", "done", t0)
	all = append(all, tasks(t, "e urgent 1")...)
	second, next, err := task.Page(all, task.Filter{State: task.Open}, 2, next)
	if err != nil || strings.Join(names(second), " ") != "c d" || next != "" {
		t.Errorf("second page %v, next %q, %v; want c d and the end", names(second), next, err)
	}
}

func TestPageSizeBounds(t *testing.T) {
	t.Parallel()
	var defs []string
	for i := range task.MaxPageSize + 10 {
		defs = append(defs, fmt.Sprintf("t%d normal %d", i, i))
	}
	all := tasks(t, defs...)
	cases := []struct {
		name string
		size int
		want int
	}{
		{"zero means the default", 0, task.DefaultPageSize},
		{"negative means the default", -1, task.DefaultPageSize},
		{"above the maximum is the maximum", task.MaxPageSize + 5, task.MaxPageSize},
		{"asked for", 7, 7},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, next, err := task.Page(all, task.Filter{}, c.size, "")
			if err != nil || len(got) != c.want || next == "" {
				t.Errorf("Page(size %d) = %d tasks, next %q, %v; want %d and a next page", c.size, len(got), next, err, c.want)
			}
		})
	}
}

func TestPageRejectsBadToken(t *testing.T) {
	t.Parallel()
	all := tasks(t, "a normal 1")
	for _, tok := range []string{"not base64!", "bm9wZQ", "OS4xLmFi" /* 9.1.ab: rank 9 */} {
		t.Run(tok, func(t *testing.T) {
			t.Parallel()
			_, _, err := task.Page(all, task.Filter{}, 10, tok)
			assertField(t, err, "page_token")
		})
	}
}
