package shopwebhook

import (
	"encoding/json"
	"fmt"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
)

const sourceWooCommerce = "woocommerce"

// VerifyWooCommerce reports whether header, the X-WC-Webhook-Signature
// header of a webhook, is the base64 HMAC-SHA256 of the raw body under the
// webhook's secret. It compares in constant time. An empty secret or header
// is never valid.
func VerifyWooCommerce(body []byte, secret, header string) bool {
	return validBase64HMAC(body, secret, header)
}

// wooOrder is the part of WooCommerce's order webhook body (the REST API
// order) that Bazgasht reads. Times ending in _gmt carry no zone and are
// UTC; prices may be strings or numbers.
type wooOrder struct {
	ID               scalar `json:"id"`
	Status           string `json:"status"`
	Currency         string `json:"currency"`
	Total            scalar `json:"total"`
	DiscountTotal    scalar `json:"discount_total"`
	ShippingTotal    scalar `json:"shipping_total"`
	TotalTax         scalar `json:"total_tax"`
	DateCreatedGMT   string `json:"date_created_gmt"`
	DateModifiedGMT  string `json:"date_modified_gmt"`
	DatePaidGMT      string `json:"date_paid_gmt"`
	DateCompletedGMT string `json:"date_completed_gmt"`
	CustomerID       scalar `json:"customer_id"`
	PaymentMethod    string `json:"payment_method"`
	Billing          struct {
		Email string `json:"email"`
		Phone string `json:"phone"`
	} `json:"billing"`
	LineItems []struct {
		ProductID   scalar `json:"product_id"`
		VariationID scalar `json:"variation_id"`
		SKU         string `json:"sku"`
		Name        string `json:"name"`
		Quantity    scalar `json:"quantity"`
		Price       scalar `json:"price"`
		Total       scalar `json:"total"`
	} `json:"line_items"`
	CouponLines []struct {
		Code string `json:"code"`
	} `json:"coupon_lines"`
	Refunds []struct {
		Reason string `json:"reason"`
		Total  scalar `json:"total"`
	} `json:"refunds"`
}

// MapWooCommerce maps a WooCommerce order webhook to a journey event: topic
// is the X-WC-Webhook-Topic header, deliveryID the X-WC-Webhook-Delivery-ID
// header and body the raw body. order.created becomes order.placed;
// order.updated becomes order.paid, order.shipped, order.cancelled or
// order.refunded by the order's new status (processing, completed,
// cancelled, refunded) and the custom type "order.updated" for any other
// status. Any other topic, order.deleted included, returns
// ErrUnsupportedTopic. The event id is "woocommerce:" and the delivery id,
// or, without one, the order id, status and modification time. The event is
// not validated and has no tenant.
func MapWooCommerce(topic, deliveryID string, body []byte) (*journeyv1.JourneyEvent, error) {
	switch topic {
	case "order.created", "order.updated":
	default:
		return nil, fmt.Errorf("woocommerce topic %q: %w", topic, ErrUnsupportedTopic)
	}
	where := sourceWooCommerce + " " + topic
	var o wooOrder
	if err := json.Unmarshal(body, &o); err != nil {
		return nil, fmt.Errorf("%s: body is not an order: %w", where, err)
	}
	if o.ID == "" || o.ID == "0" {
		return nil, fmt.Errorf("%s: body is not an order: it has no id", where)
	}

	m := &mapping{where: where, currency: o.Currency, zonelessUTC: true}
	id := deliveryID
	if id == "" {
		id = string(o.ID) + ":" + o.Status + ":" + o.DateModifiedGMT
	}
	customerID := string(o.CustomerID)
	if customerID == "0" { // a guest checkout
		customerID = ""
	}
	ev := &journeyv1.JourneyEvent{
		Id:       sourceWooCommerce + ":" + id,
		Source:   sourceWooCommerce,
		Customer: customer(customerID, o.Billing.Email, o.Billing.Phone),
		Context:  &journeyv1.Context{Channel: "web"},
	}
	orderID := string(o.ID)
	switch {
	case topic == "order.created":
		ev.Type = "order.placed"
		ev.OccurredAt = m.timestamp("date_created_gmt", o.DateCreatedGMT)
		ev.Payload = &journeyv1.JourneyEvent_OrderPlaced{OrderPlaced: o.placed(m)}
	case o.Status == "processing":
		ev.Type = "order.paid"
		ev.OccurredAt = m.timestamp("date_paid_gmt", firstNonEmpty(o.DatePaidGMT, o.DateModifiedGMT))
		ev.Payload = &journeyv1.JourneyEvent_OrderPaid{OrderPaid: &journeyv1.OrderPaid{
			OrderId:       orderID,
			Amount:        m.money("total", o.Total),
			PaymentMethod: o.PaymentMethod,
		}}
	case o.Status == "completed":
		ev.Type = "order.shipped"
		ev.OccurredAt = m.timestamp("date_completed_gmt", firstNonEmpty(o.DateCompletedGMT, o.DateModifiedGMT))
		ev.Payload = &journeyv1.JourneyEvent_OrderShipped{OrderShipped: &journeyv1.OrderShipped{OrderId: orderID}}
	case o.Status == "cancelled":
		ev.Type = "order.cancelled"
		ev.OccurredAt = m.timestamp("date_modified_gmt", o.DateModifiedGMT)
		ev.Payload = &journeyv1.JourneyEvent_OrderCancelled{OrderCancelled: &journeyv1.OrderCancelled{OrderId: orderID}}
	case o.Status == "refunded":
		ev.Type = "order.refunded"
		ev.OccurredAt = m.timestamp("date_modified_gmt", o.DateModifiedGMT)
		ev.Payload = &journeyv1.JourneyEvent_OrderRefunded{OrderRefunded: o.refunded(m)}
	default:
		ev.Type = customOrderUpdated
		ev.OccurredAt = m.timestamp("date_modified_gmt", o.DateModifiedGMT)
		total := m.money("total", o.Total)
		ev.Properties = m.properties(map[string]any{
			"order_id": orderID,
			"status":   orNull(o.Status),
			"total":    orNull(total.GetAmount()),
			"currency": orNull(o.Currency),
		})
	}
	if m.err != nil {
		return nil, m.err
	}
	return ev, nil
}

func (o *wooOrder) placed(m *mapping) *journeyv1.OrderPlaced {
	p := &journeyv1.OrderPlaced{
		OrderId:       string(o.ID),
		Total:         m.money("total", o.Total),
		Discount:      m.money("discount_total", o.DiscountTotal),
		Shipping:      m.money("shipping_total", o.ShippingTotal),
		Tax:           m.money("total_tax", o.TotalTax),
		PaymentMethod: o.PaymentMethod,
	}
	if len(o.CouponLines) > 0 {
		p.Coupon = o.CouponLines[0].Code
	}
	for i, li := range o.LineItems {
		// A line whose product was deleted from the catalog has product_id
		// 0; the contract requires a product, so the line is left out rather
		// than failing the order.
		if li.ProductID == "" || li.ProductID == "0" {
			continue
		}
		field := fmt.Sprintf("line_items[%d]", i)
		variation := string(li.VariationID)
		if variation == "0" {
			variation = ""
		}
		quantity := m.quantity(field+".quantity", li.Quantity)
		p.Items = append(p.Items, &journeyv1.LineItem{
			Product: &journeyv1.Product{
				ProductId: string(li.ProductID),
				VariantId: variation,
				Sku:       li.SKU,
				Name:      li.Name,
			},
			Quantity:  quantity,
			UnitPrice: m.wooUnitPrice(field, li.Price, li.Total, quantity),
		})
	}
	return p
}

// wooUnitPrice is a line's price. WooCommerce computes it in floating point
// as total / quantity, so it is rounded to the contract's 9 decimals; when
// it is missing it is computed the same way, exactly.
func (m *mapping) wooUnitPrice(field string, price, total scalar, quantity int32) *journeyv1.Money {
	if m.err != nil {
		return nil
	}
	var amount string
	var err error
	switch {
	case price != "":
		amount, err = roundedAmount(string(price), 1)
		field += ".price"
	case total != "" && quantity > 0:
		amount, err = roundedAmount(string(total), int64(quantity))
		field += ".total"
	default:
		return nil
	}
	if err != nil {
		m.fail(field, err)
		return nil
	}
	return &journeyv1.Money{Currency: m.currency, Amount: amount}
}

// refunded is the body of order.refunded: the sum of the order's refunds,
// or its total when the body lists none.
func (o *wooOrder) refunded(m *mapping) *journeyv1.OrderRefunded {
	r := &journeyv1.OrderRefunded{OrderId: string(o.ID)}
	if len(o.Refunds) == 0 {
		r.Amount = m.money("total", o.Total)
		return r
	}
	totals := make([]string, len(o.Refunds))
	for i, rf := range o.Refunds {
		totals[i] = string(rf.Total)
		r.Reason = firstNonEmpty(r.Reason, rf.Reason)
	}
	if m.err != nil {
		return r
	}
	sum, err := sumAbsAmounts(totals)
	if err != nil {
		m.fail("refunds[].total", err)
		return r
	}
	r.Amount = &journeyv1.Money{Currency: m.currency, Amount: sum}
	return r
}
