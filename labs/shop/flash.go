package shop

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sdworkbook/workbook/labs"
)

// Check names of the flash sale, as the references name them.
const (
	chkFlashOversell = "the flash sale never oversells"
	chkFlashOnce     = "one order and one charge per checkout"
	chkFlashBound    = "every paid order settles within 2 s"
	chkFlashCalls    = "the provider's limits are kept"
)

// flashExercise is step 2: a flash sale where the stock, the double
// clicks and a slow, limited provider all have to be handled at once.
func flashExercise() labs.Exercise {
	return labs.Exercise{
		ID: "shop-flash-sale", Lab: "shop", Step: 2,
		Title:   "Flash sale: ten checkouts per unit, double clicks and a slow provider",
		NeedsDB: true,
		Card: []string{
			fmt.Sprintf("%s checkouts for product 1 arrive at the same moment; %d units are on the shelf. Exactly %d orders are confirmed and the rest cancelled: never oversell.",
				labs.Thousands(flashOrders), flashStock, flashStock),
			"Shoppers double-click: every checkout is sent twice at once with its Idempotency-Key. Each pair is one order, and no card is charged twice or without a confirmed order.",
			fmt.Sprintf("The provider takes %d ms per authorisation, loses %.0f%% of its answers (it authorised, the shop never heard), and works on at most %d authorisations at once for the shop: a call beyond that is refused at once (429).",
				flashLatencyMS, flashTimeoutRate*100, flashMaxInFlight),
			fmt.Sprintf("Every confirmed order settles within %d ms of being placed, on the lab's clock.", flashBoundMS),
			fmt.Sprintf("The provider is never refused, and is called at most %.1f times per confirmed order.", flashMaxCallsPer),
		},
		Scale: "Time is the lab's own clock, as in the first step: every checkout is placed at one instant of it, work takes no time and each wait " +
			"(the provider's latency, provider_timeout_ms, claim_idle_ms) takes exactly its length, so settle times and call counts are the same on any machine. " +
			"The provider answers in 200 ms instead of a second or two, and the sale is a tenth of a real one (500 checkouts for 50 units rather than 5,000 for 500): " +
			"the ratios that matter (ten checkouts per unit, paid orders per consumer, the provider's limit) are kept. " +
			"The provider's lost answers are drawn from a seeded stream, so every grading loses the same ones. " +
			fmt.Sprintf("The overselling check sends all %s checkouts; the double-click check sends %d (each twice), and the time and call checks %d, one per unit, "+
				"which is what reaches the provider in the full sale.", labs.Thousands(flashOrders), flashDoubled, flashPaying),
		Hint: "Three numbers decide this sale: consumers per service (how many authorisations run at once, against the provider's limit), " +
			"provider_timeout_ms (how long a consumer waits for an answer that may never come, against how soon a slow answer counts as lost), " +
			"and the queue they make: by Little's law, 50 payments that each hold a consumer for about the provider's latency need enough consumers to finish in time. " +
			"Read the e-commerce case study on idempotency keys and on timeouts whose outcome is unknown.",
		Checks: []labs.Check{
			{Name: chkFlashOversell, Points: 30, Run: checkFlashOversell,
				Requirement: fmt.Sprintf("%s checkouts of one unit of product 1 (%d in stock), placed at one instant, end with exactly %d confirmed and %d cancelled; "+
					"product 1 ends with 0 available, 0 reserved and %d sold, and the stock never stops adding up.",
					labs.Thousands(flashOrders), flashStock, flashStock, flashOrders-flashStock, flashStock)},
			{Name: chkFlashOnce, Points: 30, Run: checkFlashOnce,
				Requirement: fmt.Sprintf("%d checkouts, each sent twice at once with the same Idempotency-Key and body, make %d orders (both answers name the same one); "+
					"every confirmed order is charged exactly once and no other order is charged, though the provider calls back twice half the time.",
					flashDoubled, flashDoubled)},
			{Name: chkFlashBound, Points: 20, Run: checkFlashBound,
				Requirement: fmt.Sprintf("%d checkouts for the %d units at one instant: every order settles, and every confirmed one within %d ms of being placed on the lab's clock, "+
					"with the provider answering in %d ms and losing %.0f%% of its answers.", flashPaying, flashStock, flashBoundMS, flashLatencyMS, flashTimeoutRate*100)},
			{Name: chkFlashCalls, Points: 20, Run: checkFlashCalls,
				Requirement: fmt.Sprintf("In the same sale of %d checkouts the provider refuses no call (it takes at most %d authorisations in flight at once; a refused call is retried after %d ms) "+
					"and is called at most %.1f times per confirmed order.", flashPaying, flashMaxInFlight, busyBackoff.Milliseconds(), flashMaxCallsPer)},
		},
		References: flashReferences(),
	}
}

// flashGood runs 8 consumers (the provider's limit), gives up on an
// answer 50 ms after the provider's latency, and keys everything.
func flashGood() labs.Design {
	return labs.Design{"reservation": ReserveConditional, "idempotency_keys": true, "outbox": true, "consumers": 8, "provider_timeout_ms": 250}
}

func flashReferences() []labs.Reference {
	bad := func(name string, changes labs.Design, fails ...string) labs.Reference {
		d := flashGood()
		maps.Copy(d, changes)
		return labs.Reference{Name: name, Design: d, Fails: fails}
	}
	return []labs.Reference{
		{Name: "good", Design: flashGood()},
		bad("naive-reservation", labs.Design{"reservation": ReserveNaive}, chkFlashOversell),
		bad("no-idempotency", labs.Design{"idempotency_keys": false}, chkFlashOnce),
		bad("four-consumers", labs.Design{"consumers": 4}, chkFlashBound),
		bad("long-timeout", labs.Design{"provider_timeout_ms": 3000}, chkFlashBound),
		bad("more-consumers-than-the-provider-takes", labs.Design{"consumers": 12}, chkFlashCalls),
		bad("timeout-below-the-latency", labs.Design{"provider_timeout_ms": 150}, chkFlashBound, chkFlashCalls),
	}
}

func checkFlashOversell(ctx context.Context, t *labs.Trial) labs.Outcome {
	run, shop, err := flashSale(ctx, t, flashOrders, false)
	if err != nil {
		return flashBroken(shop, err)
	}
	var problems []string
	if len(run.bads) > 0 {
		problems = append(problems, fmt.Sprintf("%d checkouts were not accepted (%s)", countAll(run.bads), firstKey(run.bads)))
	}
	if c := run.counts[StatusConfirmed]; c != flashStock {
		problems = append(problems, fmt.Sprintf("%d orders were confirmed for %d units", c, flashStock))
	}
	if run.counts[StatusPending] > 0 {
		problems = append(problems, fmt.Sprintf("%s never settled", nOrders(run.counts[StatusPending])))
	}
	if s := run.stock; s.Available != 0 || s.Reserved != 0 || s.Sold != flashStock || run.inv.Violations > 0 {
		problems = append(problems, fmt.Sprintf("product 1 must end with 0 available, 0 reserved and %d sold, adding up all along (%d invariant violations)",
			flashStock, run.inv.Violations))
	}
	if len(problems) == 0 {
		return labs.Pass("%s", run.seen())
	}
	why := ""
	if shop.cfg != nil && shop.cfg.reservation == ReserveNaive {
		why = " With reservation=naive_read_then_write the inventory consumers read the same available count at once and each writes its own decrement over " +
			"the others' (a lost update): the sale confirms units that do not exist. Let the database decide with UPDATE … WHERE available >= qty."
	}
	return labs.Fail("%s Wrong: %s.%s", run.seen(), strings.Join(problems, "; "), why)
}

func checkFlashOnce(ctx context.Context, t *labs.Trial) labs.Outcome {
	run, shop, err := flashSale(ctx, t, flashDoubled, true)
	if err != nil {
		return flashBroken(shop, err)
	}
	var problems []string
	split := 0
	for _, ids := range run.answers {
		if len(ids) > 1 {
			split++
		}
	}
	if len(run.bads) > 0 {
		problems = append(problems, fmt.Sprintf("%d requests were not answered 202 (%s)", countAll(run.bads), firstKey(run.bads)))
	}
	if split > 0 || run.orders() != run.checkouts {
		problems = append(problems, fmt.Sprintf("%d checkouts became %d orders (%d double clicks were answered with two different orders)", run.checkouts, run.orders(), split))
	}
	confirmed := run.counts[StatusConfirmed]
	if run.pay.Charges != confirmed || run.pay.OrdersCharged != confirmed || len(run.pay.ChargedTwice) > 0 {
		problems = append(problems, fmt.Sprintf("%d confirmed orders must mean %d charges on %d orders, not %d charges on %d orders (%d orders charged more than once)",
			confirmed, confirmed, confirmed, run.pay.Charges, run.pay.OrdersCharged, len(run.pay.ChargedTwice)))
	}
	if len(problems) == 0 {
		return labs.Pass("%s", run.seen())
	}
	why := ""
	if shop.cfg != nil && !shop.cfg.idem {
		why = " With idempotency_keys=false the order service ignores the key, so each double click is a second order, and the payment service " +
			"captures money for every copy of a callback and re-authorises after every lost answer. Keep the key with the order in one transaction, " +
			"and deduplicate callbacks by event id and provider calls by a key."
	}
	return labs.Fail("%s Wrong: %s.%s", run.seen(), strings.Join(problems, "; "), why)
}

func checkFlashBound(ctx context.Context, t *labs.Trial) labs.Outcome {
	run, shop, err := flashSale(ctx, t, flashPaying, false)
	if err != nil {
		return flashBroken(shop, err)
	}
	worst, ms := run.maxSettle()
	xs := make([]float64, len(ms))
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	limit := float64(flashBoundMS)
	chart := &labs.CheckChart{Title: "Settle time of each confirmed order, shortest first", XLabel: "confirmed order", YLabel: "ms from placed to settled, on the lab's clock",
		X: xs, Limit: &limit, Series: []labs.ChartSeries{{Name: "settle time", Values: ms}}}
	seen := fmt.Sprintf("%s The slowest confirmed order settled %.0f ms after it was placed (at most %d ms allowed).", run.seen(), worst, flashBoundMS)
	if run.counts[StatusPending] == 0 && worst <= flashBoundMS {
		return withChart(labs.Pass("%s", seen), chart)
	}
	return withChart(labs.Fail("%s%s", seen, flashBoundWhy(shop.cfg, run)), chart)
}

// flashBoundWhy explains a slow sale from the design, when known.
func flashBoundWhy(cfg *config, run *flashRun) string {
	if cfg == nil {
		return ""
	}
	timeout := cfg.provTimeout.Milliseconds()
	s := fmt.Sprintf(" Each payment holds a consumer for the provider's %d ms; %d consumers finish at most %.0f a second, so %d paid orders need %.0f ms at best. "+
		"Each of the %d lost answers held a consumer for provider_timeout_ms (%d ms) more, %.1f s in all, while the orders queued behind it waited.",
		flashLatencyMS, cfg.consumers, float64(cfg.consumers)*1000/flashLatencyMS, run.counts[StatusConfirmed],
		float64(run.counts[StatusConfirmed])*flashLatencyMS/float64(cfg.consumers), run.pay.LostAnswers, timeout, float64(run.pay.LostAnswers*timeout)/1000)
	switch {
	case timeout <= flashLatencyMS:
		s += fmt.Sprintf(" A provider_timeout_ms of %d ms gives up before the provider can answer (%d ms): every attempt times out and the message is retried until it is claimed.",
			timeout, flashLatencyMS)
	case timeout > 2*flashLatencyMS:
		s += " A lost answer costs a consumer the whole timeout: wait little longer than the provider takes."
	default:
		s += " Run more consumers, up to what the provider accepts at once."
	}
	return s
}

func checkFlashCalls(ctx context.Context, t *labs.Trial) labs.Outcome {
	run, shop, err := flashSale(ctx, t, flashPaying, false)
	if err != nil {
		return flashBroken(shop, err)
	}
	confirmed := max(run.counts[StatusConfirmed], 1)
	per := float64(run.pay.AuthCalls) / float64(confirmed)
	seen := fmt.Sprintf("%s That is %.2f calls per confirmed order (at most %.1f allowed); at most %d authorisations were in flight at once.",
		run.seen(), per, flashMaxCallsPer, run.pay.PeakInFlight)
	var problems []string
	if run.pay.Refused > 0 {
		problems = append(problems, fmt.Sprintf("the provider refused %d calls", run.pay.Refused))
	}
	if per > flashMaxCallsPer {
		problems = append(problems, fmt.Sprintf("%.2f calls per confirmed order is over the budget", per))
	}
	if len(problems) == 0 {
		return labs.Pass("%s", seen)
	}
	why := ""
	if cfg := shop.cfg; cfg != nil {
		if cfg.consumers > flashMaxInFlight {
			why += fmt.Sprintf(" %d payment consumers call the provider at once, and it takes only %d: the others are refused, wait %d ms, and are refused again "+
				"until a slot frees; more consumers than the provider takes add calls, not speed.", cfg.consumers, flashMaxInFlight, busyBackoff.Milliseconds())
		}
		if cfg.provTimeout.Milliseconds() <= flashLatencyMS {
			why += fmt.Sprintf(" With provider_timeout_ms %d ms and a provider that takes %d ms, every answer comes too late: each attempt is another call "+
				"(and the provider is still working on the ones given up on, so they pile up in flight).", cfg.provTimeout.Milliseconds(), flashLatencyMS)
		}
	}
	return labs.Fail("%s Wrong: %s.%s", seen, strings.Join(problems, "; "), why)
}

// flashBroken is a sale that could not be run or read: the design's fault
// when a route answered wrongly, else the environment's.
func flashBroken(shop *clockedShop, err error) labs.Outcome {
	if shop == nil {
		return labs.Broken(err)
	}
	return labs.OutcomeOf(err)
}

func countAll(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// firstKey is the least of the map's keys, so a message is the same each time.
func firstKey(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	return strings.TrimSpace(slices.Min(slices.Collect(maps.Keys(m))))
}
