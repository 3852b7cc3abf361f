// Package task is what a follow-up task is: a customer an agent should get
// back to, why, how urgently and by when, and who holds it. It is pure:
// tasks are created, claimed and completed here; stored, listed over gRPC
// and announced as journey events elsewhere.
package task

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors, compared with errors.Is.
var (
	// ErrNotFound means the tenant has no task with the id.
	ErrNotFound = errors.New("task not found")
	// ErrHeldByOther means another agent has claimed the task.
	ErrHeldByOther = errors.New("task is held by another agent")
	// ErrAlreadyDone means the task was completed before. Completing it
	// again changes nothing; the error tells the caller that this call did
	// not complete it, so task.completed is announced once.
	ErrAlreadyDone = errors.New("task is already done")
	// ErrInvalid is wrapped by every *FieldError.
	ErrInvalid = errors.New("invalid task")
	// ErrConflict means the task changed since it was read: read it again
	// and retry.
	ErrConflict = errors.New("task changed concurrently")
)

// FieldError names the field that makes a request invalid, such as
// "assignee" or "page_token".
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Limits on what a task holds.
const (
	// DefaultDueIn is the SLA of a task whose rule sets none.
	DefaultDueIn = 24 * time.Hour
	// MaxAssigneeLen is the longest agent id, in bytes.
	MaxAssigneeLen = 128
	// MaxTextLen is the longest reason or outcome, in bytes.
	MaxTextLen = 4096
	// DefaultPageSize and MaxPageSize bound a page of List.
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// Priority is how urgent a task is, written as in task.created events.
type Priority string

// Priorities, least urgent first.
const (
	Low    Priority = "low"
	Normal Priority = "normal"
	High   Priority = "high"
	Urgent Priority = "urgent"
)

// rank orders priorities: 0 for an unknown one.
func (p Priority) rank() int {
	switch p {
	case Low:
		return 1
	case Normal:
		return 2
	case High:
		return 3
	case Urgent:
		return 4
	}
	return 0
}

// Valid reports whether p is one of the four priorities.
func (p Priority) Valid() bool { return p.rank() > 0 }

// State is where a task is in its life.
type State string

// States, in the order a task passes through them.
const (
	// Open tasks wait for an agent.
	Open State = "open"
	// Claimed tasks are held by Assignee.
	Claimed State = "claimed"
	// Done tasks are completed; nothing changes them any more.
	Done State = "done"
)

// Customer is whom the task is about: the identities of the causing event.
type Customer struct {
	CustomerID  string `json:"customer_id,omitempty"`
	Email       string `json:"email,omitempty"`
	Phone       string `json:"phone,omitempty"`
	AnonymousID string `json:"anonymous_id,omitempty"`
}

// IsZero reports whether c has no identity at all.
func (c Customer) IsZero() bool { return c == Customer{} }

// Task is one follow-up for an agent, created by a rule firing.
type Task struct {
	// ID is derived from tenant, rule and cause event (see IDFor).
	ID       string   `json:"id"`
	Tenant   string   `json:"tenant"`
	Customer Customer `json:"customer"`
	// Reason is why, in words an agent reads.
	Reason       string   `json:"reason"`
	RuleID       string   `json:"rule_id"`
	RuleVersion  int      `json:"rule_version"`
	CauseEventID string   `json:"cause_event_id"`
	Priority     Priority `json:"priority"`
	State        State    `json:"state"`
	// Assignee is the agent holding the task; empty while open.
	Assignee string `json:"assignee,omitempty"`
	// Outcome is what the agent wrote on completion.
	Outcome     string    `json:"outcome,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	DueAt       time.Time `json:"due_at"`
	ClaimedAt   time.Time `json:"claimed_at,omitzero"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
	// Revision is the store's version of the task, checked on Update; 0
	// for a task never stored. It is not part of the stored value.
	Revision uint64 `json:"-"`
}

// Spec is what a rule firing knows about the task it creates.
type Spec struct {
	Tenant       string
	Customer     Customer
	Reason       string
	RuleID       string
	RuleVersion  int
	CauseEventID string
	// Priority is Normal when empty.
	Priority Priority
	// DueIn is the SLA from creation; DefaultDueIn when 0.
	DueIn time.Duration
	// Assignee, when set, creates the task claimed by that agent.
	Assignee string
}

// New returns the open task a firing creates at now, or a *FieldError
// naming the first field of s at fault. Its ID is IDFor(tenant, rule,
// cause event), so a retried firing yields the same task.
func New(s Spec, now time.Time) (*Task, error) {
	switch {
	case s.Tenant == "":
		return nil, &FieldError{"tenant", "required"}
	case s.RuleID == "":
		return nil, &FieldError{"rule_id", "required"}
	case s.CauseEventID == "":
		// Without it every firing of the rule would be the same task.
		return nil, &FieldError{"cause_event_id", "required"}
	case s.Customer.IsZero():
		return nil, &FieldError{"customer", "at least one identity is required"}
	case strings.TrimSpace(s.Reason) == "":
		return nil, &FieldError{"reason", "required"}
	case len(s.Reason) > MaxTextLen:
		return nil, &FieldError{"reason", fmt.Sprintf("longer than %d bytes", MaxTextLen)}
	case s.Priority != "" && !s.Priority.Valid():
		return nil, &FieldError{"priority", fmt.Sprintf("%q is not low, normal, high or urgent", s.Priority)}
	case s.DueIn < 0:
		return nil, &FieldError{"due_in", "negative"}
	case len(s.Assignee) > MaxAssigneeLen:
		return nil, &FieldError{"assignee", fmt.Sprintf("longer than %d bytes", MaxAssigneeLen)}
	}
	now = now.UTC()
	t := &Task{
		ID:           IDFor(s.Tenant, s.RuleID, s.CauseEventID),
		Tenant:       s.Tenant,
		Customer:     s.Customer,
		Reason:       s.Reason,
		RuleID:       s.RuleID,
		RuleVersion:  s.RuleVersion,
		CauseEventID: s.CauseEventID,
		Priority:     cmp.Or(s.Priority, Normal),
		State:        Open,
		CreatedAt:    now,
		DueAt:        now.Add(cmp.Or(s.DueIn, DefaultDueIn)),
	}
	if s.Assignee != "" {
		t.State, t.Assignee, t.ClaimedAt = Claimed, s.Assignee, now
	}
	return t, nil
}

// IDFor is the id of the task a rule creates for a causing event: 32 hex
// digits of a SHA-256 over the three, each length-prefixed so that no two
// triples share an encoding.
func IDFor(tenant, ruleID, causeEventID string) string {
	h := sha256.New()
	for _, s := range []string{tenant, ruleID, causeEventID} {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(s))))
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Claim gives an open task to assignee at now. Claiming a task the same
// agent already holds changes nothing and is no error; a task another agent
// holds is ErrHeldByOther and a done one ErrAlreadyDone.
func (t *Task) Claim(assignee string, now time.Time) error {
	if err := checkAssignee(assignee); err != nil {
		return err
	}
	switch t.State {
	case Done:
		return ErrAlreadyDone
	case Claimed:
		if t.Assignee != assignee {
			return fmt.Errorf("%w (%s)", ErrHeldByOther, t.Assignee)
		}
		return nil
	}
	t.State, t.Assignee, t.ClaimedAt = Claimed, assignee, now.UTC()
	return nil
}

// Complete marks the task done by assignee at now with the agent's
// outcome. A claimed task may be completed only by the agent holding it
// (else ErrHeldByOther); an open one by any agent, who becomes its
// assignee. A done task is ErrAlreadyDone and stays as it was.
func (t *Task) Complete(assignee, outcome string, now time.Time) error {
	if err := checkAssignee(assignee); err != nil {
		return err
	}
	if len(outcome) > MaxTextLen {
		return &FieldError{"outcome", fmt.Sprintf("longer than %d bytes", MaxTextLen)}
	}
	switch t.State {
	case Done:
		return ErrAlreadyDone
	case Claimed:
		if t.Assignee != assignee {
			return fmt.Errorf("%w (%s)", ErrHeldByOther, t.Assignee)
		}
	}
	t.State, t.Assignee, t.Outcome, t.CompletedAt = Done, assignee, outcome, now.UTC()
	return nil
}

func checkAssignee(a string) error {
	switch {
	case strings.TrimSpace(a) == "":
		return &FieldError{"assignee", "required"}
	case len(a) > MaxAssigneeLen:
		return &FieldError{"assignee", fmt.Sprintf("longer than %d bytes", MaxAssigneeLen)}
	}
	return nil
}

// Overdue reports whether the task is past its due time at now and not
// done.
func (t *Task) Overdue(now time.Time) bool {
	return t.State != Done && !t.DueAt.IsZero() && now.After(t.DueAt)
}

// Filter picks tasks for List; a zero field matches any task.
type Filter struct {
	State    State
	Priority Priority
	Assignee string
}

// Matches reports whether t passes every set field of f.
func (f Filter) Matches(t *Task) bool {
	return (f.State == "" || t.State == f.State) &&
		(f.Priority == "" || t.Priority == f.Priority) &&
		(f.Assignee == "" || t.Assignee == f.Assignee)
}

// Compare orders tasks as List returns them: most urgent first, then
// earliest due, then by id, so the order is total.
func Compare(a, b *Task) int {
	return cmp.Or(
		cmp.Compare(b.Priority.rank(), a.Priority.rank()),
		a.DueAt.Compare(b.DueAt),
		strings.Compare(a.ID, b.ID),
	)
}

// Page picks the page List returns from all of a tenant's tasks: those
// matching f, in Compare order, after the task page token names, at most
// pageSize of them (DefaultPageSize when 0 or less, MaxPageSize at most).
// The token of the next page is empty on the last. Tokens name a position
// in the order, not an offset, so tasks created or completed between pages
// neither repeat nor skip the others.
func Page(tasks []Task, f Filter, pageSize int, pageToken string) ([]Task, string, error) {
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	pageSize = min(pageSize, MaxPageSize)
	var after *Task
	if pageToken != "" {
		a, err := decodeToken(pageToken)
		if err != nil {
			return nil, "", err
		}
		after = &a
	}
	var out []Task
	for i := range tasks {
		if f.Matches(&tasks[i]) && (after == nil || Compare(after, &tasks[i]) < 0) {
			out = append(out, tasks[i])
		}
	}
	slices.SortFunc(out, func(a, b Task) int { return Compare(&a, &b) })
	if len(out) <= pageSize {
		return out, "", nil
	}
	out = out[:pageSize:pageSize]
	return out, encodeToken(&out[pageSize-1]), nil
}

// A page token is the sort key of the last task of the page:
// "<priority rank>.<due unix nanoseconds>.<id>", base64url-encoded.
func encodeToken(t *Task) string {
	key := strconv.Itoa(t.Priority.rank()) + "." + strconv.FormatInt(t.DueAt.UnixNano(), 10) + "." + t.ID
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

func decodeToken(s string) (Task, error) {
	bad := &FieldError{"page_token", "not a token of this list"}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Task{}, bad
	}
	parts := strings.SplitN(string(raw), ".", 3)
	if len(parts) != 3 || parts[2] == "" {
		return Task{}, bad
	}
	rank, err1 := strconv.Atoi(parts[0])
	due, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil || rank < 1 || rank > 4 {
		return Task{}, bad
	}
	prio := []Priority{Low, Normal, High, Urgent}[rank-1]
	return Task{Priority: prio, DueAt: time.Unix(0, due).UTC(), ID: parts[2]}, nil
}

// Repository stores tasks. Every method is scoped to one tenant: no call
// reads or changes another tenant's tasks.
type Repository interface {
	// Create stores t unless the tenant has a task with its id, and
	// reports whether it did. An existing task is left as it is (a retried
	// firing); on creation t.Revision is set.
	Create(ctx context.Context, t *Task) (created bool, err error)
	// Get returns the task, or ErrNotFound.
	Get(ctx context.Context, tenant, id string) (*Task, error)
	// Update stores t if the stored task is still at t.Revision, and sets
	// t.Revision to the new one. A task changed since it was read is
	// ErrConflict; one never stored ErrNotFound.
	Update(ctx context.Context, t *Task) error
	// List returns a page of the tenant's tasks matching f, as Page
	// orders and pages them, and the token of the next page.
	List(ctx context.Context, tenant string, f Filter, pageSize int, pageToken string) ([]Task, string, error)
}

// Outbox remembers completions whose task.completed event is not yet
// published, so that one lost to a failed publish or a crash is published
// later instead of never.
type Outbox interface {
	// Hold records that task id of tenant is about to be announced, at.
	Hold(ctx context.Context, tenant, id string, at time.Time) error
	// Held reports whether the task's announcement is outstanding.
	Held(ctx context.Context, tenant, id string) (bool, error)
	// Release forgets the announcement: published, or not needed.
	Release(ctx context.Context, tenant, id string) error
	// Outstanding lists every held announcement, of every tenant.
	Outstanding(ctx context.Context) ([]Pending, error)
}

// Pending is an announcement held in the outbox since At.
type Pending struct {
	Tenant, ID string
	At         time.Time
}
