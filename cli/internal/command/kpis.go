package command

import (
	"cmp"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	profilev1 "github.com/bazgasht/bazgasht/gen/cx/profile/v1"
	reportv1 "github.com/bazgasht/bazgasht/gen/cx/report/v1"
	surveyv1 "github.com/bazgasht/bazgasht/gen/cx/survey/v1"
	"github.com/bazgasht/bazgasht/platform/period"
)

// kpis shows, per period, the survey scores (NPS, CSAT, CES, response
// rate) and the commerce figures (customers, orders, repeat-purchase
// rate), then retention by cohort.
func kpis(e *env, args []string) error {
	var from, to, by, calendar, zone, lang string
	pos, err := e.flags("kpis", args, func(fs *flagSet) {
		fs.StringVar(&lang, "lang", cmp.Or(os.Getenv("BAZGASHT_LANG"), "en"), "en or fa (Persian headings, digits and Jalali month names)")
		fs.StringVar(&from, "from", "", "first day, YYYY-MM-DD (a year ago when empty)")
		fs.StringVar(&to, "to", "", "last day, YYYY-MM-DD (today when empty)")
		fs.StringVar(&by, "by", "month", "day, week, month or quarter")
		fs.StringVar(&calendar, "calendar", "jalali", "jalali or gregorian")
		fs.StringVar(&zone, "tz", "Asia/Tehran", "time zone of the days")
	})
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("takes no arguments")
	}
	if lang != "en" && lang != "fa" {
		return usagef("-lang %q: want en or fa", lang)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return usagef("-tz %q: %v", zone, err)
	}
	today := time.Now().In(loc)
	end := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, 1)
	start := end.AddDate(-1, 0, 0)
	if from != "" {
		if start, err = time.ParseInLocation(time.DateOnly, from, loc); err != nil {
			return usagef("-from %q: want YYYY-MM-DD", from)
		}
	}
	if to != "" {
		t, err := time.ParseInLocation(time.DateOnly, to, loc)
		if err != nil {
			return usagef("-to %q: want YYYY-MM-DD", to)
		}
		end = t.AddDate(0, 0, 1)
	}
	g, ok := reportv1.Granularity_value["GRANULARITY_"+strings.ToUpper(by)]
	if !ok {
		return usagef("-by %q: want day, week, month or quarter", by)
	}
	c, ok := reportv1.Calendar_value["CALENDAR_"+strings.ToUpper(calendar)]
	if !ok {
		return usagef("-calendar %q: want jalali or gregorian", calendar)
	}
	span := &reportv1.Period{StartTime: timestamppb.New(start), EndTime: timestamppb.New(end), Granularity: reportv1.Granularity(g),
		Calendar: reportv1.Calendar(c), TimeZone: zone}

	pconn, err := e.conn(e.profile)
	if err != nil {
		return err
	}
	sconn, err := e.conn(e.survey)
	if err != nil {
		return err
	}
	ctx, cancel := e.rpcCtx()
	defer cancel()
	scores, err := surveyv1.NewSurveyServiceClient(sconn).GetScoreKPIs(ctx, &surveyv1.GetScoreKPIsRequest{Tenant: e.tenant, Period: span})
	if err != nil {
		return fmt.Errorf("survey KPIs: %w", err)
	}
	commerce, err := profilev1.NewProfileServiceClient(pconn).GetCommerceKPIs(ctx, &profilev1.GetCommerceKPIsRequest{Tenant: e.tenant, Period: span,
		CohortGranularity: reportv1.Granularity(g)})
	if err != nil {
		return fmt.Errorf("commerce KPIs: %w", err)
	}
	if e.json {
		if err := e.printJSON(scores); err != nil {
			return err
		}
		return e.printJSON(commerce)
	}
	fa := lang == "fa"
	jalali := reportv1.Calendar(c) == reportv1.Calendar_CALENDAR_JALALI
	labelOf := func(l string) string {
		if fa {
			return period.PersianLabel(l, jalali)
		}
		return l
	}
	rows := [][]string{}
	for i, s := range append(scores.GetPeriods(), scores.GetTotal()) {
		label := labelOf(s.GetBounds().GetLabel())
		var cm *profilev1.CommerceKPIs
		if i < len(commerce.GetPeriods()) {
			cm = commerce.GetPeriods()[i]
		} else {
			cm, label = commerce.GetTotal(), "total"
			if fa {
				label = "کل"
			}
		}
		rows = append(rows, []string{label,
			score(s.GetNps().GetResponses(), fmt.Sprintf("%+.0f", s.GetNps().GetScore())),
			score(s.GetCsat().GetResponses(), fmt.Sprintf("%.2f (%.0f%% 4–5)", s.GetCsat().GetMean(), 100*s.GetCsat().GetSatisfiedShare())),
			score(s.GetCes().GetResponses(), fmt.Sprintf("%.2f", s.GetCes().GetMeanEffort())),
			score(s.GetInvitations(), fmt.Sprintf("%.0f%%", 100*s.GetResponseRate())),
			fmt.Sprint(cm.GetCustomers()), fmt.Sprint(cm.GetOrders()),
			score(cm.GetCustomers(), fmt.Sprintf("%.0f%%", 100*cm.GetRepeatPurchaseRate()))})
	}
	header := []string{"PERIOD", "NPS", "CSAT", "CES", "RESPONSE RATE", "CUSTOMERS", "ORDERS", "REPEAT PURCHASE"}
	cohortHeader := []string{"COHORT", "CUSTOMERS", "RETAINED, PERIOD BY PERIOD", "CHURNED"}
	if fa {
		header = []string{"دوره", "NPS", "CSAT", "CES", "نرخ پاسخ", "مشتریان", "سفارش‌ها", "خرید دوباره"}
		cohortHeader = []string{"گروه", "مشتریان", "ماندگاری، دوره به دوره", "ریزش"}
		for _, r := range rows {
			for j := range r {
				r[j] = persianFigure(r[j])
			}
		}
	}
	e.table(header, rows)
	if len(commerce.GetCohorts()) > 0 {
		fmt.Fprintln(e.out)
		crows := [][]string{}
		for _, co := range commerce.GetCohorts() {
			var rates []string
			for _, r := range co.GetRetentionRate() {
				rates = append(rates, fmt.Sprintf("%.0f%%", 100*r))
			}
			row := []string{labelOf(co.GetBounds().GetLabel()), fmt.Sprint(co.GetSize()), strings.Join(rates, " "), fmt.Sprint(co.GetChurned())}
			if fa {
				for j := range row {
					row[j] = persianFigure(row[j])
				}
			}
			crows = append(crows, row)
		}
		e.table(cohortHeader, crows)
	}
	return nil
}

// persianFigure writes a figure with Persian digits, decimal point and
// percent sign.
func persianFigure(s string) string {
	return period.PersianDigits(strings.NewReplacer("%", "٪", ".", "٫").Replace(s))
}

// score shows a figure, or a dash when nothing was counted.
func score(n int64, figure string) string {
	if n == 0 {
		return "–"
	}
	return figure
}
