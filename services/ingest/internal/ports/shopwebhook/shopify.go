package shopwebhook

import (
	"encoding/json"
	"fmt"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
)

const sourceShopify = "shopify"

// VerifyShopify reports whether header, the X-Shopify-Hmac-Sha256 header of
// a webhook, is the base64 HMAC-SHA256 of the raw body under the shop's
// webhook secret. It compares in constant time. An empty secret or header is
// never valid.
func VerifyShopify(body []byte, secret, header string) bool {
	return validBase64HMAC(body, secret, header)
}

// shopifyOrder is the part of Shopify's order webhook body that Bazgasht
// reads. Ids and amounts are scalars: Shopify sends 64-bit ids as numbers
// and money as strings ("1250000.00").
type shopifyOrder struct {
	ID                    scalar `json:"id"`
	Email                 string `json:"email"`
	Phone                 string `json:"phone"`
	Currency              string `json:"currency"`
	TotalPrice            scalar `json:"total_price"`
	SubtotalPrice         scalar `json:"subtotal_price"`
	TotalDiscounts        scalar `json:"total_discounts"`
	TotalTax              scalar `json:"total_tax"`
	TotalShippingPriceSet *struct {
		ShopMoney struct {
			Amount scalar `json:"amount"`
		} `json:"shop_money"`
	} `json:"total_shipping_price_set"`
	FinancialStatus     string   `json:"financial_status"`
	FulfillmentStatus   string   `json:"fulfillment_status"`
	SourceName          string   `json:"source_name"`
	CreatedAt           string   `json:"created_at"`
	UpdatedAt           string   `json:"updated_at"`
	ProcessedAt         string   `json:"processed_at"`
	CancelledAt         string   `json:"cancelled_at"`
	CancelReason        string   `json:"cancel_reason"`
	PaymentGatewayNames []string `json:"payment_gateway_names"`
	DiscountCodes       []struct {
		Code string `json:"code"`
	} `json:"discount_codes"`
	Customer *struct {
		ID    scalar `json:"id"`
		Email string `json:"email"`
		Phone string `json:"phone"`
	} `json:"customer"`
	BillingAddress *struct {
		Phone string `json:"phone"`
	} `json:"billing_address"`
	LineItems []struct {
		ProductID scalar `json:"product_id"`
		VariantID scalar `json:"variant_id"`
		SKU       string `json:"sku"`
		Title     string `json:"title"`
		Quantity  scalar `json:"quantity"`
		Price     scalar `json:"price"`
	} `json:"line_items"`
	Fulfillments []shopifyFulfillment `json:"fulfillments"`
}

type shopifyFulfillment struct {
	Status          string   `json:"status"`
	CreatedAt       string   `json:"created_at"`
	UpdatedAt       string   `json:"updated_at"`
	TrackingCompany string   `json:"tracking_company"`
	TrackingNumber  string   `json:"tracking_number"`
	TrackingNumbers []string `json:"tracking_numbers"`
}

// MapShopify maps a Shopify order webhook to a journey event: topic is the
// X-Shopify-Topic header, webhookID the X-Shopify-Webhook-Id header (the
// event id, so that Shopify's retries of one webhook are one event) and body
// the raw body. orders/create, orders/paid, orders/fulfilled and
// orders/cancelled become order.placed, order.paid, order.shipped and
// order.cancelled; orders/updated becomes the custom type "order.updated"
// with the order's statuses in properties. Any other topic returns
// ErrUnsupportedTopic. The event is not validated and has no tenant.
func MapShopify(topic, webhookID string, body []byte) (*journeyv1.JourneyEvent, error) {
	switch topic {
	case "orders/create", "orders/paid", "orders/fulfilled", "orders/cancelled", "orders/updated":
	default:
		return nil, fmt.Errorf("shopify topic %q: %w", topic, ErrUnsupportedTopic)
	}
	where := sourceShopify + " " + topic
	if webhookID == "" {
		return nil, fmt.Errorf("%s: the X-Shopify-Webhook-Id header is empty; it is the event id", where)
	}
	var o shopifyOrder
	if err := json.Unmarshal(body, &o); err != nil {
		return nil, fmt.Errorf("%s: body is not an order: %w", where, err)
	}
	if o.ID == "" {
		return nil, fmt.Errorf("%s: body is not an order: it has no id", where)
	}

	m := &mapping{where: where, currency: o.Currency}
	ev := &journeyv1.JourneyEvent{
		Id:       sourceShopify + ":" + webhookID,
		Source:   sourceShopify,
		Customer: o.customer(),
		Context:  &journeyv1.Context{Channel: shopifyChannel(o.SourceName)},
	}
	orderID := string(o.ID)
	switch topic {
	case "orders/create":
		ev.Type = "order.placed"
		ev.OccurredAt = m.timestamp("created_at", o.CreatedAt)
		ev.Payload = &journeyv1.JourneyEvent_OrderPlaced{OrderPlaced: o.placed(m)}
	case "orders/paid":
		ev.Type = "order.paid"
		ev.OccurredAt = m.timestamp("processed_at", firstNonEmpty(o.ProcessedAt, o.UpdatedAt))
		ev.Payload = &journeyv1.JourneyEvent_OrderPaid{OrderPaid: &journeyv1.OrderPaid{
			OrderId:       orderID,
			Amount:        m.money("total_price", o.TotalPrice),
			PaymentMethod: first(o.PaymentGatewayNames),
		}}
	case "orders/fulfilled":
		f := o.fulfillment()
		ev.Type = "order.shipped"
		ev.OccurredAt = m.timestamp("fulfillments[].created_at", firstNonEmpty(f.CreatedAt, f.UpdatedAt, o.UpdatedAt))
		ev.Payload = &journeyv1.JourneyEvent_OrderShipped{OrderShipped: &journeyv1.OrderShipped{
			OrderId:        orderID,
			Carrier:        f.TrackingCompany,
			TrackingNumber: firstNonEmpty(f.TrackingNumber, first(f.TrackingNumbers)),
		}}
	case "orders/cancelled":
		ev.Type = "order.cancelled"
		ev.OccurredAt = m.timestamp("cancelled_at", o.CancelledAt)
		ev.Payload = &journeyv1.JourneyEvent_OrderCancelled{OrderCancelled: &journeyv1.OrderCancelled{
			OrderId: orderID,
			Reason:  o.CancelReason,
		}}
	case "orders/updated":
		ev.Type = customOrderUpdated
		ev.OccurredAt = m.timestamp("updated_at", o.UpdatedAt)
		total := m.money("total_price", o.TotalPrice)
		ev.Properties = m.properties(map[string]any{
			"order_id":           orderID,
			"financial_status":   orNull(o.FinancialStatus),
			"fulfillment_status": orNull(o.FulfillmentStatus),
			"total_price":        orNull(total.GetAmount()),
			"currency":           orNull(o.Currency),
		})
	}
	if m.err != nil {
		return nil, m.err
	}
	return ev, nil
}

func (o *shopifyOrder) customer() *journeyv1.Customer {
	var id scalar
	var email, phone, billingPhone string
	if c := o.Customer; c != nil {
		id, email, phone = c.ID, c.Email, c.Phone
	}
	if o.BillingAddress != nil {
		billingPhone = o.BillingAddress.Phone
	}
	return customer(string(id), firstNonEmpty(o.Email, email), firstNonEmpty(o.Phone, phone, billingPhone))
}

func (o *shopifyOrder) placed(m *mapping) *journeyv1.OrderPlaced {
	p := &journeyv1.OrderPlaced{
		OrderId:       string(o.ID),
		Total:         m.money("total_price", o.TotalPrice),
		Subtotal:      m.money("subtotal_price", o.SubtotalPrice),
		Discount:      m.money("total_discounts", o.TotalDiscounts),
		Tax:           m.money("total_tax", o.TotalTax),
		PaymentMethod: first(o.PaymentGatewayNames),
	}
	if s := o.TotalShippingPriceSet; s != nil {
		p.Shipping = m.money("total_shipping_price_set.shop_money.amount", s.ShopMoney.Amount)
	}
	if len(o.DiscountCodes) > 0 {
		p.Coupon = o.DiscountCodes[0].Code
	}
	for i, li := range o.LineItems {
		// A custom line item (gift wrapping, a tip) has no product; the
		// contract requires one, so it is left out rather than failing the
		// order.
		if li.ProductID == "" {
			continue
		}
		field := fmt.Sprintf("line_items[%d]", i)
		p.Items = append(p.Items, &journeyv1.LineItem{
			Product: &journeyv1.Product{
				ProductId: string(li.ProductID),
				VariantId: string(li.VariantID),
				Sku:       li.SKU,
				Name:      li.Title,
			},
			Quantity:  m.quantity(field+".quantity", li.Quantity),
			UnitPrice: m.money(field+".price", li.Price),
		})
	}
	return p
}

// fulfillment is the order's first fulfillment that was not cancelled, or
// an empty one when it has none.
func (o *shopifyOrder) fulfillment() shopifyFulfillment {
	for _, f := range o.Fulfillments {
		switch f.Status {
		case "cancelled", "error", "failure":
			continue
		}
		return f
	}
	return shopifyFulfillment{}
}

// shopifyChannel maps an order's source_name to the event's channel: "web"
// for the online store, "store" for point of sale, "other" for draft orders,
// mobile and app channels.
func shopifyChannel(sourceName string) string {
	switch sourceName {
	case "", "web":
		return "web"
	case "pos":
		return "store"
	}
	return "other"
}

func first(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0]
}
