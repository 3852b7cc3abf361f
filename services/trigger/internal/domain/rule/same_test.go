package rule_test

import (
	"testing"
	"time"

	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/rule"
)

func TestSameDefinitionIgnoresVersionAndAuthor(t *testing.T) {
	t.Parallel()
	a := rule.Rule{ID: "r", Name: "R", Enabled: true, Kind: rule.OnEvent, Start: &rule.EventMatch{Type: "order.placed"},
		Actions: []rule.Action{{Notify: &rule.NotifyAction{Template: "t"}}}}
	b := a
	b.Version, b.UpdatedBy, b.UpdatedAt = 7, "file:x", time.Now()
	if !rule.SameDefinition(a, b) {
		t.Fatal("a rule and its stored copy differ only by version and author, yet SameDefinition is false")
	}
	b.Actions = []rule.Action{{Notify: &rule.NotifyAction{Template: "other"}}}
	if rule.SameDefinition(a, b) {
		t.Fatal("different actions compare as the same definition")
	}
}
