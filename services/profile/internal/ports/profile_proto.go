package ports

import (
	"maps"
	"slices"
	"strings"
	"time"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
	profilev1 "github.com/bazgasht/bazgasht/gen/cx/profile/v1"
	"github.com/bazgasht/bazgasht/services/profile/internal/domain/profile"
)

func channelOf(name string) journeyv1.Channel {
	return journeyv1.Channel(journeyv1.Channel_value["CHANNEL_"+strings.ToUpper(name)])
}

func moneyOf(currency, amount string) *journeyv1.Money {
	return &journeyv1.Money{Currency: currency, Amount: amount}
}

// optionalMoney is nil for an amount not known.
func optionalMoney(currency, amount string) *journeyv1.Money {
	if amount == "" {
		return nil
	}
	return moneyOf(currency, amount)
}

// primaryCustomer names a profile by its first identity of each kind.
func primaryCustomer(ids []profile.Identity) *journeyv1.Customer {
	f := profile.FirstOfEach(ids)
	return &journeyv1.Customer{CustomerId: f[profile.CustomerID], Email: f[profile.Email], Phone: f[profile.Phone], AnonymousId: f[profile.AnonymousID]}
}

var stages = map[profile.Stage]profilev1.LifecycleStage{
	profile.StageNew: profilev1.LifecycleStage_LIFECYCLE_STAGE_NEW, profile.StageActive: profilev1.LifecycleStage_LIFECYCLE_STAGE_ACTIVE,
	profile.StageRepeat: profilev1.LifecycleStage_LIFECYCLE_STAGE_REPEAT, profile.StageAtRisk: profilev1.LifecycleStage_LIFECYCLE_STAGE_AT_RISK,
	profile.StageChurned: profilev1.LifecycleStage_LIFECYCLE_STAGE_CHURNED,
}

// ProfileToProto renders a profile as the API shows it, with its stage and
// segments computed at now.
func ProfileToProto(p *profile.Profile, now time.Time, rules profile.Rules) *profilev1.Profile {
	out := &profilev1.Profile{
		ProfileId:      p.ID,
		Identities:     &profilev1.Identities{},
		Stage:          stages[p.Stage(now, rules)],
		Segments:       p.Segments(now, rules),
		FirstSeenAt:    ts(p.FirstSeen),
		LastActivityAt: ts(p.LastActivity),
		Revision:       p.Revision,
	}
	var updated time.Time
	for _, r := range p.Applied {
		if r.At.After(updated) {
			updated = r.At
		}
	}
	out.UpdatedAt = ts(updated)
	for _, id := range p.Identities {
		ids := out.Identities
		switch id.Kind {
		case profile.CustomerID:
			ids.CustomerIds = append(ids.CustomerIds, id.Value)
		case profile.Email:
			ids.Emails = append(ids.Emails, id.Value)
		case profile.Phone:
			ids.Phones = append(ids.Phones, id.Value)
		case profile.AnonymousID:
			ids.AnonymousIds = append(ids.AnonymousIds, id.Value)
		}
	}
	t := p.Traits
	out.Traits = &profilev1.Traits{FirstName: t.FirstName.V, LastName: t.LastName.V, Locale: t.Locale.V, TimeZone: t.TimeZone.V,
		PreferredChannel: channelOf(t.PreferredChannel.V)}
	for _, ch := range slices.Sorted(maps.Keys(t.Consents)) {
		out.Traits.Consents = append(out.Traits.Consents, &journeyv1.Consent{Channel: channelOf(ch), Granted: t.Consents[ch].V})
	}
	if len(t.Custom) > 0 {
		out.Traits.Custom = map[string]string{}
		for k, v := range t.Custom {
			out.Traits.Custom[k] = v.V
		}
	}

	c := p.Commerce()
	out.Commerce = &profilev1.Commerce{OrderCount: c.OrderCount, CancellationCount: c.Cancellations, RefundCount: c.Refunds,
		FirstOrderAt: ts(c.FirstOrder), LastOrderAt: ts(c.LastOrder), FavouriteProductIds: c.Favourites}
	for _, ct := range c.ByCurrency {
		out.Commerce.ByCurrency = append(out.Commerce.ByCurrency, &profilev1.CurrencyTotals{
			Currency: ct.Currency, OrderCount: ct.Orders, Revenue: moneyOf(ct.Currency, ct.Revenue),
			AverageOrderValue: moneyOf(ct.Currency, ct.AOV), LargestOrder: moneyOf(ct.Currency, ct.Largest), Refunded: moneyOf(ct.Currency, ct.Refunded),
			PreviousAverageOrderValue: optionalMoney(ct.Currency, ct.PreviousAOV),
		})
	}
	for _, a := range c.Categories {
		out.Commerce.CategoryAffinity = append(out.Commerce.CategoryAffinity, &profilev1.Affinity{Key: a.Key, Name: a.Name, Purchases: a.Purchases, Views: a.Views})
	}
	for _, a := range c.Products {
		out.Commerce.ProductAffinity = append(out.Commerce.ProductAffinity, &profilev1.Affinity{Key: a.Key, Name: a.Name, Purchases: a.Purchases, Views: a.Views})
	}
	for _, v := range c.ViewedNotBought {
		pr := &journeyv1.Product{ProductId: v.Product.ID, Name: v.Product.Name, Category: v.Product.Category, Url: v.Product.URL, ImageUrl: v.Product.ImageURL}
		if v.Product.Price != nil {
			pr.Price = moneyOf(v.Product.Price.Currency, v.Product.Price.Amount)
		}
		out.Commerce.ViewedNotBought = append(out.Commerce.ViewedNotBought, &profilev1.ViewedProduct{Product: pr, FirstViewedAt: ts(v.First), LastViewedAt: ts(v.Last), ViewCount: v.Count})
	}

	s := p.Support()
	out.Support = &profilev1.Support{OpenTickets: s.Open, TotalTickets: s.Total, ReopenedTickets: s.Reopened, LastTicketTopic: s.LastTopic, LastTicketAt: ts(s.LastTicketAt)}

	out.Feedback = &profilev1.Feedback{}
	score := func(kind string) *profilev1.Score {
		sc, ok := p.Scores[kind]
		if !ok {
			return nil
		}
		return &profilev1.Score{SurveyId: sc.SurveyID, Score: sc.Score, Touchpoint: sc.Touchpoint, RespondedAt: ts(sc.At)}
	}
	out.Feedback.LastNps, out.Feedback.LastCsat, out.Feedback.LastCes = score("nps"), score("csat"), score("ces")
	out.Feedback.NpsCategory = map[string]profilev1.NpsCategory{
		"promoter": profilev1.NpsCategory_NPS_CATEGORY_PROMOTER, "passive": profilev1.NpsCategory_NPS_CATEGORY_PASSIVE,
		"detractor": profilev1.NpsCategory_NPS_CATEGORY_DETRACTOR,
	}[p.NPSCategory()]
	return out
}
