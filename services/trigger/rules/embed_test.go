package rules_test

import (
	"slices"
	"testing"

	"github.com/bazgasht/bazgasht/services/trigger/internal/adapters"
	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/rule"
	"github.com/bazgasht/bazgasht/services/trigger/rules"
)

func TestDefaultPackLoads(t *testing.T) {
	t.Parallel()
	pack, err := adapters.LoadRuleFiles(rules.Default, rules.DefaultDir)
	if err != nil {
		t.Fatalf("LoadRuleFiles(default pack):\n%v", err)
	}
	var ids []string
	for _, r := range pack {
		ids = append(ids, r.ID)
		if !r.Enabled {
			t.Errorf("%s: not enabled; the pack acts out of the box", r.ID)
		}
		if r.Name == "" || r.Description == "" {
			t.Errorf("%s: needs a name and a description for the people who read it", r.ID)
		}
	}
	slices.Sort(ids)
	want := []string{
		"back-in-stock-favourite",
		"big-order-thanks",
		"csat-after-delivery",
		"csat-after-ticket",
		"csat-low-follow-up",
		"nps-detractor-follow-up",
		"viewed-not-bought-discount",
		"vip-welcome",
		"winback-90d",
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("pack rule ids = %v, want %v", ids, want)
	}
}

// TestDefaultPackActs runs the pack's conditions and correlations on the
// events they are written for.
func TestDefaultPackActs(t *testing.T) {
	t.Parallel()
	pack, err := adapters.LoadRuleFiles(rules.Default, rules.DefaultDir)
	if err != nil {
		t.Fatalf("LoadRuleFiles: %v", err)
	}
	byID := map[string]rule.Rule{}
	for _, r := range pack {
		byID[r.ID] = r
	}
	profile := `{"commerce":{"order_count":"6","favourite_product_ids":["p-3","p-9"],"by_currency":[
		{"currency":"EUR","order_count":"2","average_order_value":{"currency":"EUR","amount":"40.00"},"previous_average_order_value":{"currency":"EUR","amount":"30.00"}},
		{"currency":"IRT","order_count":"4","average_order_value":{"currency":"IRT","amount":"1500000"},"previous_average_order_value":{"currency":"IRT","amount":"1250000.25"}}]}}`

	t.Run("big order", func(t *testing.T) {
		t.Parallel()
		r := byID["big-order-thanks"]
		cases := []struct {
			name, event string
			want        bool
		}{
			{"above twice the usual IRT order", `{"type":"order.placed","order_placed":{"total":{"currency":"IRT","amount":"2500000.51"}}}`, true},
			{"exactly twice", `{"type":"order.placed","order_placed":{"total":{"currency":"IRT","amount":"2500000.50"}}}`, false},
			{"large next to EUR, ordinary in IRT", `{"type":"order.placed","order_placed":{"total":{"currency":"IRT","amount":"100"}}}`, false},
			{"a currency never bought in", `{"type":"order.placed","order_placed":{"total":{"currency":"USD","amount":"900000"}}}`, false},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				if got := rule.AllHold(r.Conditions, mustDoc(t, c.event, profile)); got != c.want {
					t.Fatalf("conditions hold = %v, want %v", got, c.want)
				}
			})
		}
	})

	t.Run("follow-ups", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			name, rule, event string
			want              bool
		}{
			{"NPS 0", "nps-detractor-follow-up", `{"type":"survey.responded","survey_responded":{"kind":"SURVEY_KIND_NPS","score":0}}`, true},
			{"NPS 6", "nps-detractor-follow-up", `{"type":"survey.responded","survey_responded":{"kind":"SURVEY_KIND_NPS","score":6}}`, true},
			{"NPS 7", "nps-detractor-follow-up", `{"type":"survey.responded","survey_responded":{"kind":"SURVEY_KIND_NPS","score":7}}`, false},
			{"CSAT 2 is no NPS detractor", "nps-detractor-follow-up", `{"type":"survey.responded","survey_responded":{"kind":"SURVEY_KIND_CSAT","score":2}}`, false},
			{"CSAT 2", "csat-low-follow-up", `{"type":"survey.responded","survey_responded":{"kind":"SURVEY_KIND_CSAT","score":2}}`, true},
			{"CSAT 3", "csat-low-follow-up", `{"type":"survey.responded","survey_responded":{"kind":"SURVEY_KIND_CSAT","score":3}}`, false},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				r := byID[c.rule]
				if got := rule.AllHold(r.Start.Conditions, mustDoc(t, c.event, "")); got != c.want {
					t.Fatalf("%s on %s = %v, want %v", c.rule, c.event, got, c.want)
				}
				if r.Actions[0].Task.Priority != rule.PriorityHigh || r.Actions[0].Task.DueIn.Std().Hours() != 1 || !r.Controls.ExemptFromGlobalCap {
					t.Fatalf("%s: task %+v, controls %+v; want high priority due in 1h, exempt from the global cap", c.rule, *r.Actions[0].Task, r.Controls)
				}
			})
		}
	})

	t.Run("back in stock", func(t *testing.T) {
		t.Parallel()
		r := byID["back-in-stock-favourite"]
		fav := mustDoc(t, `{"type":"product.back_in_stock","product_back_in_stock":{"product":{"product_id":"p-9"}}}`, profile)
		other := mustDoc(t, `{"type":"product.back_in_stock","product_back_in_stock":{"product":{"product_id":"p-1"}}}`, profile)
		if !rule.AllHold(r.Conditions, fav) || rule.AllHold(r.Conditions, other) {
			t.Fatal("back-in-stock holds for a favourite and not for another product: want so")
		}
	})

	t.Run("delivery check stopped by that order only", func(t *testing.T) {
		t.Parallel()
		r := byID["csat-after-delivery"]
		delivered := mustDoc(t, `{"type":"order.delivered","order_delivered":{"order_id":"1001"}}`, "")
		for _, c := range []struct {
			other string
			want  bool
		}{
			{`{"type":"order.refunded","order_refunded":{"order_id":"1001"}}`, true},
			{`{"type":"order.cancelled","order_cancelled":{"order_id":"1001"}}`, true},
			{`{"type":"order.refunded","order_refunded":{"order_id":"1002"}}`, false},
		} {
			if got := rule.Correlated(r.Correlate, delivered, mustDoc(t, c.other, "")); got != c.want {
				t.Errorf("Correlated(delivered 1001, %s) = %v, want %v", c.other, got, c.want)
			}
		}
		if got := rule.Expand(r.Actions[0].Survey.Touchpoint, delivered); got != "order:1001" {
			t.Errorf("touchpoint = %q, want order:1001", got)
		}
	})

	t.Run("discount only for that product", func(t *testing.T) {
		t.Parallel()
		r := byID["viewed-not-bought-discount"]
		viewed := mustDoc(t, `{"type":"product.viewed","product_viewed":{"product":{"product_id":"p-9","name":"Socks"}}}`, "")
		bought := mustDoc(t, `{"type":"order.placed","order_placed":{"items":[{"product":{"product_id":"p-1"}},{"product":{"product_id":"p-9"}}]}}`, "")
		boughtElse := mustDoc(t, `{"type":"order.placed","order_placed":{"items":[{"product":{"product_id":"p-1"}}]}}`, "")
		if !rule.Correlated(r.Correlate, viewed, bought) || rule.Correlated(r.Correlate, viewed, boughtElse) {
			t.Fatal("an order with the viewed product among its lines ends the wait, and one without does not: want so")
		}
		if got := rule.Expand(r.Actions[0].Notify.Variables["product_id"], viewed); got != "p-9" {
			t.Errorf("product_id variable = %q, want p-9", got)
		}
	})
}

func mustDoc(t *testing.T, event, profile string) rule.Doc {
	t.Helper()
	d, err := rule.DocFromJSON([]byte(event), []byte(profile))
	if err != nil {
		t.Fatalf("DocFromJSON: %v", err)
	}
	return d
}
