package adapters_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bazgasht/bazgasht/platform/natstest"
	"github.com/bazgasht/bazgasht/platform/topology"
	"github.com/bazgasht/bazgasht/services/trigger/internal/adapters"
	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/task"
)

var taskT0 = time.Date(2025, 3, 21, 9, 0, 0, 0, time.UTC)

// newTaskStore starts a nats-server, ensures the TASKS bucket as the
// service does, and opens the store over it.
func newTaskStore(t *testing.T) (*adapters.TaskKVStore, context.Context) {
	t.Helper()
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 30*time.Second)
	set := topology.Set{KeyValues: []jetstream.KeyValueConfig{adapters.TasksBucket(1)}}
	if err := topology.Ensure(ctx, srv.JS, srv.NC.ConnectedServerVersion(), set); err != nil {
		t.Fatal(err)
	}
	store, err := adapters.NewTaskKVStore(ctx, srv.JS)
	if err != nil {
		t.Fatal(err)
	}
	return store, ctx
}

// seedTask creates the task a firing of rule for event makes in tenant.
func seedTask(t *testing.T, ctx context.Context, store *adapters.TaskKVStore, tenant, rule string, prio task.Priority, dueIn time.Duration) *task.Task {
	t.Helper()
	tk, err := task.New(task.Spec{
		Tenant:       tenant,
		Customer:     task.Customer{CustomerID: "c-" + rule},
		Reason:       "follow up on " + rule,
		RuleID:       rule,
		RuleVersion:  1,
		CauseEventID: "evt-" + rule,
		Priority:     prio,
		DueIn:        dueIn,
	}, taskT0)
	if err != nil {
		t.Fatal(err)
	}
	created, err := store.Create(ctx, tk)
	if err != nil || !created {
		t.Fatalf("Create(%s) = %v, %v; want created", rule, created, err)
	}
	return tk
}

// claim and complete do what the ClaimTask and CompleteTask handlers do:
// read, change, write back at the revision read.
func claim(ctx context.Context, store task.Repository, tenant, id, who string) (*task.Task, error) {
	tk, err := store.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if err := tk.Claim(who, taskT0.Add(time.Hour)); err != nil {
		return tk, err
	}
	return tk, store.Update(ctx, tk)
}

func complete(ctx context.Context, store task.Repository, tenant, id, who, outcome string) (*task.Task, error) {
	tk, err := store.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if err := tk.Complete(who, outcome, taskT0.Add(2*time.Hour)); err != nil {
		return tk, err
	}
	return tk, store.Update(ctx, tk)
}

func TestTaskKVStoreCreateIsIdempotent(t *testing.T) {
	t.Parallel()
	store, ctx := newTaskStore(t)
	first := seedTask(t, ctx, store, "shop", "detractor-callback", task.Urgent, 4*time.Hour)
	if first.Revision == 0 {
		t.Error("Create did not set the revision")
	}

	// The firing is retried; the retry renders the reason differently.
	retry := *first
	retry.Reason, retry.Revision = "something else", 0
	created, err := store.Create(ctx, &retry)
	if err != nil || created {
		t.Fatalf("second Create = %v, %v; want not created, no error", created, err)
	}

	got, err := store.Get(ctx, "shop", first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *first {
		t.Errorf("stored task\n%+v\nwant the first one\n%+v", *got, *first)
	}
	all, _, err := store.List(ctx, "shop", task.Filter{}, 0, "")
	if err != nil || len(all) != 1 {
		t.Errorf("List = %d tasks, %v; want 1", len(all), err)
	}
}

func TestTaskKVStoreClaimAndComplete(t *testing.T) {
	t.Parallel()
	store, ctx := newTaskStore(t)
	id := seedTask(t, ctx, store, "shop", "detractor-callback", task.Urgent, 4*time.Hour).ID

	// Each step runs against what the steps before it stored.
	steps := []struct {
		name         string
		do           func() (*task.Task, error)
		wantErr      error
		wantState    task.State
		wantAssignee string
		wantOutcome  string
	}{
		{"ali claims the open task", func() (*task.Task, error) { return claim(ctx, store, "shop", id, "ali") }, nil, task.Claimed, "ali", ""},
		{"bahar cannot claim it", func() (*task.Task, error) { return claim(ctx, store, "shop", id, "bahar") }, task.ErrHeldByOther, task.Claimed, "ali", ""},
		{"ali claims it again", func() (*task.Task, error) { return claim(ctx, store, "shop", id, "ali") }, nil, task.Claimed, "ali", ""},
		{"bahar cannot complete it", func() (*task.Task, error) { return complete(ctx, store, "shop", id, "bahar", "x") }, task.ErrHeldByOther, task.Claimed, "ali", ""},
		{"ali completes it", func() (*task.Task, error) { return complete(ctx, store, "shop", id, "ali", "refund issued") }, nil, task.Done, "ali", "refund issued"},
		{"ali completes it again", func() (*task.Task, error) { return complete(ctx, store, "shop", id, "ali", "again") }, task.ErrAlreadyDone, task.Done, "ali", "refund issued"},
		{"claiming it after is refused", func() (*task.Task, error) { return claim(ctx, store, "shop", id, "bahar") }, task.ErrAlreadyDone, task.Done, "ali", "refund issued"},
	}
	for _, s := range steps {
		_, err := s.do()
		if !errors.Is(err, s.wantErr) || (s.wantErr == nil && err != nil) {
			t.Fatalf("%s: error %v, want %v", s.name, err, s.wantErr)
		}
		stored, err := store.Get(ctx, "shop", id)
		if err != nil {
			t.Fatalf("%s: Get: %v", s.name, err)
		}
		if stored.State != s.wantState || stored.Assignee != s.wantAssignee || stored.Outcome != s.wantOutcome {
			t.Errorf("%s: stored state %q, assignee %q, outcome %q; want %q, %q, %q",
				s.name, stored.State, stored.Assignee, stored.Outcome, s.wantState, s.wantAssignee, s.wantOutcome)
		}
	}

	done, _ := store.Get(ctx, "shop", id)
	if !done.ClaimedAt.Equal(taskT0.Add(time.Hour)) || !done.CompletedAt.Equal(taskT0.Add(2*time.Hour)) {
		t.Errorf("claimed at %v, completed at %v; want the times of the first claim and the completion", done.ClaimedAt, done.CompletedAt)
	}
}

func TestTaskKVStoreUpdateConflict(t *testing.T) {
	t.Parallel()
	store, ctx := newTaskStore(t)
	id := seedTask(t, ctx, store, "shop", "at-risk", task.High, time.Hour).ID

	// Two agents read the open task at the same moment and both claim it.
	a, _ := store.Get(ctx, "shop", id)
	b, _ := store.Get(ctx, "shop", id)
	if err := a.Claim("ali", taskT0); err != nil {
		t.Fatal(err)
	}
	if err := b.Claim("bahar", taskT0); err != nil {
		t.Fatal(err)
	}
	if err := store.Update(ctx, a); err != nil {
		t.Fatalf("first Update: %v", err)
	}
	if err := store.Update(ctx, b); !errors.Is(err, task.ErrConflict) {
		t.Fatalf("Update at a stale revision = %v, want ErrConflict", err)
	}
	stored, _ := store.Get(ctx, "shop", id)
	if stored.Assignee != "ali" {
		t.Errorf("stored assignee %q, want ali: the stale write must not land", stored.Assignee)
	}

	// Re-reading and retrying gives bahar the answer the contract promises.
	if _, err := claim(ctx, store, "shop", id, "bahar"); !errors.Is(err, task.ErrHeldByOther) {
		t.Errorf("bahar's retry = %v, want ErrHeldByOther", err)
	}
}

func TestTaskKVStoreUpdateOfUnstoredTask(t *testing.T) {
	t.Parallel()
	store, ctx := newTaskStore(t)
	cases := []struct {
		name     string
		revision uint64
	}{
		{"never read", 0},
		{"made-up revision", 7},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tk := &task.Task{ID: "nosuchtask" + fmt.Sprint(c.revision), Tenant: "shop", State: task.Open, Revision: c.revision}
			if err := store.Update(ctx, tk); !errors.Is(err, task.ErrNotFound) {
				t.Fatalf("Update = %v, want ErrNotFound", err)
			}
			if _, err := store.Get(ctx, "shop", tk.ID); !errors.Is(err, task.ErrNotFound) {
				t.Errorf("after Update, Get = %v; want still ErrNotFound", err)
			}
		})
	}
}

func TestTaskKVStoreGetUnknown(t *testing.T) {
	t.Parallel()
	store, ctx := newTaskStore(t)
	seedTask(t, ctx, store, "shop", "r", task.Normal, time.Hour)
	for _, id := range []string{"0123456789abcdef0123456789abcdef", "x.y", "*", ">"} {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			if _, err := store.Get(ctx, "shop", id); !errors.Is(err, task.ErrNotFound) {
				t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
			}
		})
	}
}

func TestTaskKVStoreList(t *testing.T) {
	t.Parallel()
	store, ctx := newTaskStore(t)
	// Created in an order unlike the listed one.
	for _, s := range []struct {
		rule  string
		prio  task.Priority
		hours int
	}{
		{"low-1", task.Low, 1},
		{"normal-48", task.Normal, 48},
		{"urgent-24", task.Urgent, 24},
		{"high-2", task.High, 2},
		{"urgent-1", task.Urgent, 1},
		{"normal-3", task.Normal, 3},
		{"normal-5", task.Normal, 5},
	} {
		seedTask(t, ctx, store, "shop", s.rule, s.prio, time.Duration(s.hours)*time.Hour)
	}
	idOf := func(rule string) string { return task.IDFor("shop", rule, "evt-"+rule) }
	if _, err := claim(ctx, store, "shop", idOf("urgent-24"), "ali"); err != nil {
		t.Fatal(err)
	}
	if _, err := claim(ctx, store, "shop", idOf("normal-3"), "bahar"); err != nil {
		t.Fatal(err)
	}
	if _, err := complete(ctx, store, "shop", idOf("high-2"), "ali", "called"); err != nil {
		t.Fatal(err)
	}
	// A tenant whose name starts like this one's must not leak in.
	seedTask(t, ctx, store, "shop2", "urgent-0", task.Urgent, 0)

	cases := []struct {
		name   string
		filter task.Filter
		want   string
	}{
		{"all, most urgent then earliest due", task.Filter{}, "urgent-1 urgent-24 high-2 normal-3 normal-5 normal-48 low-1"},
		{"open", task.Filter{State: task.Open}, "urgent-1 normal-5 normal-48 low-1"},
		{"claimed", task.Filter{State: task.Claimed}, "urgent-24 normal-3"},
		{"done", task.Filter{State: task.Done}, "high-2"},
		{"urgent", task.Filter{Priority: task.Urgent}, "urgent-1 urgent-24"},
		{"normal and open", task.Filter{Priority: task.Normal, State: task.Open}, "normal-5 normal-48"},
		{"held by ali", task.Filter{Assignee: "ali"}, "urgent-24 high-2"},
		{"claimed by ali", task.Filter{Assignee: "ali", State: task.Claimed}, "urgent-24"},
		{"held by nobody known", task.Filter{Assignee: "zahra"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, next, err := store.List(ctx, "shop", c.filter, 0, "")
			if err != nil {
				t.Fatal(err)
			}
			if rules(got) != c.want || next != "" {
				t.Errorf("List(%+v) = %q, next %q; want %q on one page", c.filter, rules(got), next, c.want)
			}
		})
	}

	t.Run("paging", func(t *testing.T) {
		t.Parallel()
		var pages []string
		token := ""
		for range 10 {
			page, next, err := store.List(ctx, "shop", task.Filter{}, 3, token)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, rules(page))
			if token = next; token == "" {
				break
			}
		}
		want := []string{"urgent-1 urgent-24 high-2", "normal-3 normal-5 normal-48", "low-1"}
		if fmt.Sprint(pages) != fmt.Sprint(want) {
			t.Errorf("pages %q, want %q", pages, want)
		}
	})

	t.Run("bad page token", func(t *testing.T) {
		t.Parallel()
		_, _, err := store.List(ctx, "shop", task.Filter{}, 3, "garbage!")
		var fe *task.FieldError
		if !errors.As(err, &fe) || fe.Field != "page_token" {
			t.Errorf("List with a bad token = %v, want a page_token field error", err)
		}
	})

	t.Run("tenant without tasks", func(t *testing.T) {
		t.Parallel()
		got, next, err := store.List(ctx, "quiet-shop", task.Filter{}, 0, "")
		if err != nil || len(got) != 0 || next != "" {
			t.Errorf("List = %d tasks, next %q, %v; want none", len(got), next, err)
		}
	})
}

func rules(ts []task.Task) string {
	var out []string
	for _, t := range ts {
		out = append(out, t.RuleID)
	}
	return strings.Join(out, " ")
}

func TestTaskKVStoreTenantsAreIsolated(t *testing.T) {
	t.Parallel()
	store, ctx := newTaskStore(t)
	// The same rule fires for the same event id in two shops.
	a := seedTask(t, ctx, store, "shop-a", "vip-welcome", task.High, time.Hour)
	b := seedTask(t, ctx, store, "shop-b", "vip-welcome", task.High, time.Hour)
	if a.ID == b.ID {
		t.Errorf("two tenants' tasks share id %s", a.ID)
	}

	t.Run("get another tenant's task", func(t *testing.T) {
		t.Parallel()
		if _, err := store.Get(ctx, "shop-b", a.ID); !errors.Is(err, task.ErrNotFound) {
			t.Errorf("Get(shop-b, shop-a's task) = %v, want ErrNotFound", err)
		}
	})
	t.Run("claim another tenant's task", func(t *testing.T) {
		t.Parallel()
		if _, err := claim(ctx, store, "shop-b", a.ID, "ali"); !errors.Is(err, task.ErrNotFound) {
			t.Errorf("claim(shop-b, shop-a's task) = %v, want ErrNotFound", err)
		}
	})
	t.Run("list sees only its own", func(t *testing.T) {
		t.Parallel()
		for _, want := range []*task.Task{a, b} {
			got, _, err := store.List(ctx, want.Tenant, task.Filter{}, 0, "")
			if err != nil || len(got) != 1 || got[0].ID != want.ID || got[0].Tenant != want.Tenant {
				t.Errorf("List(%s) = %+v, %v; want only its own task", want.Tenant, got, err)
			}
		}
	})
	t.Run("wildcard tenants are refused", func(t *testing.T) {
		t.Parallel()
		for _, tenant := range []string{"*", ">", "shop-a.x", "", "shop a"} {
			got, _, err := store.List(ctx, tenant, task.Filter{}, 0, "")
			var fe *task.FieldError
			if !errors.As(err, &fe) || fe.Field != "tenant" || len(got) != 0 {
				t.Errorf("List(%q) = %d tasks, %v; want a tenant field error and nothing", tenant, len(got), err)
			}
			if _, err := store.Get(ctx, tenant, a.ID); !errors.As(err, &fe) || fe.Field != "tenant" {
				t.Errorf("Get(%q) = %v, want a tenant field error", tenant, err)
			}
		}
	})
}
