package rule_test

import (
	"reflect"
	"testing"

	"github.com/bazgasht/bazgasht/services/trigger/internal/domain/rule"
)

// orderPlaced is an order.placed event as protojson writes it with proto
// names: int64 and money amounts are strings, int32 a number, enums names.
const orderPlaced = `{
  "id": "shop-evt-1001",
  "tenant": "demo",
  "customer": {"customer_id": "c-42", "email": "sara@example.com"},
  "type": "order.placed",
  "occurred_at": "2025-03-01T10:00:00Z",
  "source": "shopify",
  "context": {"channel": "web", "locale": "fa-IR"},
  "order_placed": {
    "order_id": "1001",
    "total": {"currency": "IRT", "amount": "2600000.50"},
    "subtotal": {"currency": "IRT", "amount": "2700000"},
    "items": [
      {"product": {"product_id": "p-7", "name": "Running shoes", "category": "shoes/running",
                   "price": {"currency": "IRT", "amount": "1300000"}},
       "quantity": 2, "unit_price": {"currency": "IRT", "amount": "1300000"}},
      {"product": {"product_id": "p-9", "name": "Socks"}, "quantity": 1}
    ],
    "coupon": "SPRING",
    "payment_method": "card"
  },
  "properties": {"gift": true, "note": "leave at the door", "sku_number": 123}
}`

// customerProfile is the customer's profile as protojson writes it.
const customerProfile = `{
  "profile_id": "pr-1",
  "identities": {"customer_ids": ["c-42"], "emails": ["sara@example.com"]},
  "traits": {"first_name": "Sara", "locale": "fa", "preferred_channel": "CHANNEL_SMS",
             "custom": {"plan": "gold"}},
  "commerce": {
    "order_count": "5",
    "by_currency": [
      {"currency": "EUR", "order_count": "1",
       "average_order_value": {"currency": "EUR", "amount": "40.00"}},
      {"currency": "IRT", "order_count": "4",
       "average_order_value": {"currency": "IRT", "amount": "1250000.25"}}
    ],
    "favourite_product_ids": ["p-3", "p-9"]
  },
  "feedback": {"last_nps": {"survey_id": "nps", "score": 9}},
  "stage": "LIFECYCLE_STAGE_REPEAT",
  "segments": ["promoter", "vip"]
}`

func doc(t *testing.T, event, profile string) rule.Doc {
	t.Helper()
	d, err := rule.DocFromJSON([]byte(event), []byte(profile))
	if err != nil {
		t.Fatalf("DocFromJSON: %v", err)
	}
	return d
}

func TestLookup(t *testing.T) {
	t.Parallel()
	d := doc(t, orderPlaced, customerProfile)
	cases := []struct {
		name   string
		path   string
		want   any
		wantOK bool
	}{
		{"money amount", "event.order_placed.total.amount", "2600000.50", true},
		{"int32 arrives as a number", "event.order_placed.items[0].quantity", 2.0, true},
		{"int64 arrives as a string", "profile.commerce.order_count", "5", true},
		{"index", "profile.commerce.by_currency[1].currency", "IRT", true},
		{"index past the end", "profile.commerce.by_currency[2].currency", nil, false},
		{"filter by literal", "profile.commerce.by_currency[currency=EUR].average_order_value.amount", "40.00", true},
		{"filter by the event's currency", "profile.commerce.by_currency[currency={event.order_placed.total.currency}].average_order_value.amount", "1250000.25", true},
		{"filter matching nothing", "profile.commerce.by_currency[currency=USD].order_count", nil, false},
		{"every element", "event.order_placed.items[*].product.product_id", []any{"p-7", "p-9"}, true},
		{"a name steps into every element", "event.order_placed.items.product.product_id", []any{"p-7", "p-9"}, true},
		{"wildcard skips elements without the field", "event.order_placed.items[*].unit_price.amount", []any{"1300000"}, true},
		{"a list as a whole", "profile.segments", []any{"promoter", "vip"}, true},
		{"map of custom traits", "profile.traits.custom.plan", "gold", true},
		{"missing field", "event.order_placed.discount.amount", nil, false},
		{"missing body", "event.order_refunded.order_id", nil, false},
		{"into a scalar", "event.order_placed.coupon.code", nil, false},
		{"malformed path", "event..order_placed", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, ok := rule.Lookup(d, c.path)
			if ok != c.wantOK || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Lookup(%q) = %#v, %v; want %#v, %v", c.path, got, ok, c.want, c.wantOK)
			}
		})
	}
}

func TestConditionHolds(t *testing.T) {
	t.Parallel()
	order := doc(t, orderPlaced, customerProfile)
	usdOrder := doc(t, `{"type":"order.placed","order_placed":{"order_id":"1002","total":{"currency":"USD","amount":"500"}}}`, customerProfile)
	detractor := doc(t, `{"type":"survey.responded","survey_responded":{"survey_id":"nps","kind":"SURVEY_KIND_NPS","score":0}}`, customerProfile)
	// Without protojson's EmitDefaultValues a score of 0 is left out.
	zeroOmitted := doc(t, `{"type":"survey.responded","survey_responded":{"survey_id":"nps","kind":"SURVEY_KIND_NPS"}}`, customerProfile)
	aov := "profile.commerce.by_currency[currency={event.order_placed.total.currency}].average_order_value.amount"

	cases := []struct {
		name string
		doc  rule.Doc
		c    rule.Condition
		want bool
	}{
		// Money and numbers compare as exact decimals.
		{"money equal whatever the trailing zeros", order, cond("event.order_placed.total.amount", rule.Eq, "2600000.5"), true},
		{"money not greater than itself", order, cond("event.order_placed.total.amount", rule.Gt, "2600000.5"), false},
		{"money greater by a cent", order, cond("event.order_placed.total.amount", rule.Gt, "2600000.49"), true},
		{"money at least itself", order, cond("event.order_placed.total.amount", rule.Gte, "2600000.500"), true},
		{"money below", order, cond("event.order_placed.total.amount", rule.Lt, "2600000.51"), true},
		{"int64 string compares as a number, not text", order, cond("profile.commerce.order_count", rule.Gt, "10"), false},
		{"int64 string at least two", order, cond("profile.commerce.order_count", rule.Gte, "2"), true},
		{"int32 number", order, cond("event.order_placed.items[0].quantity", rule.Eq, "2"), true},

		// value_path × factor.
		{"above twice the usual order in its currency", order, condPath("event.order_placed.total.amount", rule.Gt, aov, "2"), true},
		{"not above 2.1 times it", order, condPath("event.order_placed.total.amount", rule.Gt, aov, "2.1"), false},
		{"exactly twice is not above twice", doc(t, `{"type":"order.placed","order_placed":{"total":{"currency":"IRT","amount":"2500000.50"}}}`, customerProfile), condPath("event.order_placed.total.amount", rule.Gt, aov, "2"), false},
		{"exactly twice is at least twice", doc(t, `{"type":"order.placed","order_placed":{"total":{"currency":"IRT","amount":"2500000.5"}}}`, customerProfile), condPath("event.order_placed.total.amount", rule.Gte, aov, "2"), true},
		{"no figures in the event's currency: false", usdOrder, condPath("event.order_placed.total.amount", rule.Gt, aov, "2"), false},
		{"no figures in the event's currency: ne false too", usdOrder, condPath("event.order_placed.total.amount", rule.Ne, aov, ""), false},
		{"index picks the first currency", order, condPath("event.order_placed.total.amount", rule.Gt, "profile.commerce.by_currency[0].average_order_value.amount", "2"), true},
		{"value_path without factor", order, condPath("event.order_placed.items[1].product.product_id", rule.Eq, "profile.commerce.favourite_product_ids[1]", ""), true},
		{"in the values at a value_path", order, condPath("event.order_placed.items[*].product.product_id", rule.In, "profile.commerce.favourite_product_ids", ""), true},

		// Text.
		{"enum by name", detractor, cond("event.survey_responded.kind", rule.Eq, "SURVEY_KIND_NPS"), true},
		{"text equality is exact", order, cond("event.order_placed.coupon", rule.Eq, "spring"), false},
		{"text orders by bytes", order, cond("profile.traits.first_name", rule.Gt, "Ali"), true},
		{"boolean", order, cond("event.properties.gift", rule.Eq, "true"), true},

		// Sets.
		{"in", order, cond("event.context.channel", rule.In, "app", "web"), true},
		{"not in", order, cond("event.context.channel", rule.NotIn, "app", "store"), true},
		{"not in, but is", order, cond("event.context.channel", rule.NotIn, "web"), false},
		{"in numbers", order, cond("profile.commerce.order_count", rule.In, "4", "5.0"), true},

		// Contains.
		{"substring", order, cond("event.properties.note", rule.Contains, "door"), true},
		{"substring missing", order, cond("event.properties.note", rule.Contains, "window"), false},
		{"list element", order, cond("profile.segments", rule.Contains, "vip"), true},
		{"list element is whole", order, cond("profile.segments", rule.Contains, "vi"), false},
		{"object key", order, cond("profile.traits.custom", rule.Contains, "plan"), true},

		// Lists walked with [*]: any element for positive operators.
		{"any line is the product", order, cond("event.order_placed.items[*].product.product_id", rule.Eq, "p-9"), true},
		{"ne: no line is the product", order, cond("event.order_placed.items[*].product.product_id", rule.Ne, "p-100"), true},
		{"ne: some line is the product", order, cond("event.order_placed.items[*].product.product_id", rule.Ne, "p-7"), false},
		{"any line quantity above one", order, cond("event.order_placed.items[*].quantity", rule.Gt, "1"), true},

		// Exists and missing paths.
		{"exists", order, cond("event.order_placed.coupon", rule.Exists), true},
		{"exists on a missing path", order, cond("event.order_placed.discount", rule.Exists), false},
		{"missing path: eq false", order, cond("event.order_placed.discount.amount", rule.Eq, "0"), false},
		{"missing path: gt false", order, cond("event.order_placed.discount.amount", rule.Gt, "0"), false},
		{"missing path: lte false", order, cond("event.order_placed.discount.amount", rule.Lte, "0"), false},
		{"missing path: in false", order, cond("event.order_placed.discount.amount", rule.In, "0"), false},
		{"missing path: contains false", order, cond("event.order_placed.discount.amount", rule.Contains, "0"), false},
		{"missing path: ne true", order, cond("event.order_placed.discount.amount", rule.Ne, "0"), true},
		{"missing path: not_in true", order, cond("event.order_placed.discount.amount", rule.NotIn, "0"), true},

		// Detractors.
		{"NPS 0 is a detractor", detractor, cond("event.survey_responded.score", rule.Lte, "6"), true},
		{"NPS 0 left out of the JSON reads as missing", zeroOmitted, cond("event.survey_responded.score", rule.Lte, "6"), false},
		{"a promoter is not", order, cond("profile.feedback.last_nps.score", rule.Lte, "6"), false},

		// Nonsense holds for nothing.
		{"unknown operator", order, cond("event.order_placed.coupon", "like", "SPR"), false},
		{"factor not a decimal", order, condPath("event.order_placed.total.amount", rule.Gt, aov, "two"), false},
		{"factor against text", order, condPath("event.order_placed.total.amount", rule.Gt, "event.order_placed.coupon", "2"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := c.c.Holds(c.doc); got != c.want {
				t.Fatalf("%+v.Holds = %v, want %v", c.c, got, c.want)
			}
		})
	}
}

func TestAllHold(t *testing.T) {
	t.Parallel()
	d := doc(t, orderPlaced, customerProfile)
	yes := cond("profile.segments", rule.Contains, "vip")
	no := cond("profile.segments", rule.Contains, "at_risk")
	cases := []struct {
		name string
		cs   []rule.Condition
		want bool
	}{
		{"none", nil, true},
		{"all hold", []rule.Condition{yes, yes}, true},
		{"one fails", []rule.Condition{yes, no}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := rule.AllHold(c.cs, d); got != c.want {
				t.Fatalf("AllHold = %v, want %v", got, c.want)
			}
		})
	}
}

func TestCorrelation(t *testing.T) {
	t.Parallel()
	viewed := doc(t, `{"type":"product.viewed","product_viewed":{"product":{"product_id":"p-9"}}}`, "")
	viewedNumeric := doc(t, `{"type":"product.viewed","properties":{"product":123}}`, "")
	viewedPadded := doc(t, `{"type":"product.viewed","product_viewed":{"product":{"product_id":"007"}}}`, "")
	order := doc(t, orderPlaced, "")
	otherOrder := doc(t, `{"type":"order.placed","order_placed":{"order_id":"1003","items":[{"product":{"product_id":"p-7"}}]}}`, "")
	emptyOrder := doc(t, `{"type":"order.placed","order_placed":{"order_id":"1004"}}`, "")
	orderOf7 := doc(t, `{"type":"order.placed","order_placed":{"items":[{"product":{"product_id":"7"}}]}}`, "")
	thatProduct := rule.Correlation{Start: "event.product_viewed.product.product_id", Other: "event.order_placed.items[*].product.product_id"}
	cases := []struct {
		name         string
		c            rule.Correlation
		start, other rule.Doc
		want         bool
	}{
		{"an order with that product among its lines", thatProduct, viewed, order, true},
		{"an order of other products", thatProduct, viewed, otherOrder, false},
		{"an order without lines", thatProduct, viewed, emptyOrder, false},
		{"start side missing", thatProduct, emptyOrder, order, false},
		{"ids compare as text, not numbers", thatProduct, viewedPadded, orderOf7, false},
		{"a number and its text are the same id", rule.Correlation{Start: "event.properties.product", Other: "event.properties.sku_number"}, viewedNumeric, order, true},
		{"implicit list step is the same as [*]", rule.Correlation{Start: thatProduct.Start, Other: "event.order_placed.items.product.product_id"}, viewed, order, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := c.c.Holds(c.start, c.other); got != c.want {
				t.Fatalf("Holds = %v, want %v", got, c.want)
			}
		})
	}
}

func TestCorrelatedPicksEntriesByEventType(t *testing.T) {
	t.Parallel()
	delivered := doc(t, `{"type":"order.delivered","order_delivered":{"order_id":"1001"}}`, "")
	cs := []rule.Correlation{
		{Start: "event.order_delivered.order_id", Other: "event.order_refunded.order_id"},
		{Start: "event.order_delivered.order_id", Other: "event.order_cancelled.order_id"},
	}
	cases := []struct {
		name  string
		cs    []rule.Correlation
		other string
		want  bool
	}{
		{"refund of the same order", cs, `{"type":"order.refunded","order_refunded":{"order_id":"1001"}}`, true},
		{"refund of another order", cs, `{"type":"order.refunded","order_refunded":{"order_id":"2002"}}`, false},
		{"cancellation of the same order", cs, `{"type":"order.cancelled","order_cancelled":{"order_id":"1001"}}`, true},
		{"cancellation of another order", cs, `{"type":"order.cancelled","order_cancelled":{"order_id":"2002"}}`, false},
		{"no correlation: any such event counts", nil, `{"type":"order.refunded","order_refunded":{"order_id":"2002"}}`, true},
		{"envelope entries apply to every type", []rule.Correlation{{Start: "event.order_delivered.order_id", Other: "event.properties.order"}}, `{"type":"order.refunded","properties":{"order":"1001"}}`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := rule.Correlated(c.cs, delivered, doc(t, c.other, "")); got != c.want {
				t.Fatalf("Correlated = %v, want %v", got, c.want)
			}
		})
	}
}

func TestValues(t *testing.T) {
	t.Parallel()
	d := doc(t, `{"type":"x.y","properties":{"n":1250000,"f":0.1,"ids":["a","b","a"],"ok":true,"nested":{"k":"v"}}}`, "")
	cases := []struct {
		name, path string
		want       []string
	}{
		{"a whole number in plain form", "event.properties.n", []string{"1250000"}},
		{"a fraction as written", "event.properties.f", []string{"0.1"}},
		{"a list gives its elements once each", "event.properties.ids", []string{"a", "b"}},
		{"a boolean", "event.properties.ok", []string{"true"}},
		{"an object gives nothing", "event.properties.nested", nil},
		{"missing", "event.properties.none", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := rule.Values(d, c.path); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Values(%q) = %q, want %q", c.path, got, c.want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	d := doc(t, orderPlaced, customerProfile)
	cases := []struct {
		name, template, want string
	}{
		{"plain text", "thanks", "thanks"},
		{"a placeholder", "order:{event.order_placed.order_id}", "order:1001"},
		{"several", "{profile.traits.first_name} bought {event.order_placed.items[*].product.product_id}", "Sara bought p-7, p-9"},
		{"missing is empty", "coupon [{event.order_placed.discount.amount}]", "coupon []"},
		{"doubled braces are literal", "{{not a path}}", "{not a path}"},
		{"a malformed template stays as written", "order:{event.order_placed.order_id", "order:{event.order_placed.order_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := rule.Expand(c.template, d); got != c.want {
				t.Fatalf("Expand(%q) = %q, want %q", c.template, got, c.want)
			}
		})
	}
}

func TestDocFromJSON(t *testing.T) {
	t.Parallel()
	d, err := rule.DocFromJSON([]byte(`{"type":"product.back_in_stock"}`), nil)
	if err != nil {
		t.Fatalf("DocFromJSON without a profile: %v", err)
	}
	if _, ok := d["profile"]; ok {
		t.Fatalf("DocFromJSON without a profile = %v, want no profile key", d)
	}
	if _, err := rule.DocFromJSON([]byte(`{"type":`), nil); err == nil {
		t.Fatal("DocFromJSON of broken JSON: want an error")
	}
}

func cond(path string, op rule.Operator, values ...string) rule.Condition {
	return rule.Condition{Path: path, Op: op, Values: values}
}

func condPath(path string, op rule.Operator, valuePath, factor string) rule.Condition {
	return rule.Condition{Path: path, Op: op, ValuePath: valuePath, Factor: factor}
}

func TestStartKeyMeetsOtherKeys(t *testing.T) {
	t.Parallel()
	delivered := doc(t, `{"type":"order.delivered","order_delivered":{"order_id":"1001"}}`, "")
	viewed := doc(t, `{"type":"product.viewed","product_viewed":{"product":{"product_id":"p-9"}}}`, "")
	byOrder := []rule.Correlation{
		{Start: "event.order_delivered.order_id", Other: "event.order_refunded.order_id"},
		{Start: "event.order_delivered.order_id", Other: "event.order_cancelled.order_id"},
	}
	thatProduct := []rule.Correlation{
		{Start: "event.product_viewed.product.product_id", Other: "event.order_placed.items[*].product.product_id"},
	}
	cases := []struct {
		name      string
		cs        []rule.Correlation
		start     rule.Doc
		other     string
		wantMatch bool
	}{
		{"refund of the delivered order", byOrder, delivered, `{"type":"order.refunded","order_refunded":{"order_id":"1001"}}`, true},
		{"cancellation of the delivered order", byOrder, delivered, `{"type":"order.cancelled","order_cancelled":{"order_id":"1001"}}`, true},
		{"refund of another order", byOrder, delivered, `{"type":"order.refunded","order_refunded":{"order_id":"7"}}`, false},
		{"an order with the viewed product", thatProduct, viewed, orderPlaced, true},
		{"an order without it", thatProduct, viewed, `{"type":"order.placed","order_placed":{"items":[{"product":{"product_id":"p-1"}}]}}`, false},
		{"no correlation", nil, viewed, orderPlaced, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			other := doc(t, c.other, "")
			key, ok := rule.StartKey(c.cs, c.start)
			if !ok {
				t.Fatalf("StartKey: no key")
			}
			keys := rule.OtherKeys(c.cs, other)
			match := false
			for _, k := range keys {
				match = match || k == key
			}
			if match != c.wantMatch {
				t.Fatalf("StartKey = %q, OtherKeys = %q; match %v, want %v", key, keys, match, c.wantMatch)
			}
			if got := rule.Correlated(c.cs, c.start, other); got != c.wantMatch {
				t.Fatalf("Correlated = %v, want %v (agreeing with the keys)", got, c.wantMatch)
			}
		})
	}
	if _, ok := rule.StartKey(thatProduct, delivered); ok {
		t.Fatal("StartKey of an event without the start path: want false")
	}
}
