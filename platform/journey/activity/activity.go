// Package activity holds the one rule of what counts as a customer's own
// activity — what keeps them active and what inactivity rules, at-risk and
// churned segments and cohort retention wait for. It is pure (no contract
// types), so services' domain packages share it.
package activity

import "strings"

// Sources of events Bazgasht's services publish about a customer on their
// own account, not the customer's: a trait a rule set is not the customer
// coming back. (The survey service's survey.responded is the customer's
// answer, so "survey" is not among them.)
var serviceSources = map[string]bool{"trigger": true, "profile": true, "notification": true}

// passiveTypes are prefixes of event types that record something done to
// the customer or about the catalog: messages, segment changes, firings,
// tasks, invitations, a product back in stock.
var passiveTypes = []string{"notification.", "segment.", "trigger.", "task.", "survey.invited", "product.back_in_stock"}

// Is says whether an event of type typ from source is something the
// customer did.
func Is(typ, source string) bool {
	if serviceSources[source] {
		return false
	}
	for _, p := range passiveTypes {
		if strings.HasPrefix(typ, p) {
			return false
		}
	}
	return true
}
