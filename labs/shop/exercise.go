package shop

import (
	"fmt"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The requirement card's numbers. Each check sets the world the design
// meets (stock on the shelf, how the provider behaves) itself; the design's
// own choices are left alone, except that the concurrency check runs at
// least concCheckConsumers consumers, as its requirement states.
//
// Every duration here is on the lab's clock (see clockedShop): a check
// moves it only when the shop is waiting for time, so it counts the waits
// a design makes and never the machine's speed.
const (
	happyStock, happyProduct, happyQty = 10, 2, 3
	failProduct, failQty               = 3, 4
	fastLatencyMS                      = 10 // a provider answering in 10 ms keeps the functional checks short
	settleWait                         = 8 * time.Second

	concOrders, concStock, concBurst = 200, 50, 50
	concCheckConsumers               = 4
	concLatencyMS                    = 5
	concWait                         = 20 * time.Second
	concSampleEvery                  = 5 * time.Millisecond
	concMaxSamples                   = 200

	idemRetries = 5

	dupOrders, dupReplays = 10, 2
	dupTimeoutRate        = 0.3
	dupReplayWait         = 5 * time.Second // the replayed callbacks' copies and any claims play out

	crashOrders = 12
	crashWait   = 6 * time.Second
	deathWait   = 5 * time.Second // for the armed consumers to meet a message and die

	boundOrders      = 60
	boundRatePerS    = 25
	boundLatencyMS   = 100
	boundFailureRate = 0.1
	boundMS          = 1500
	boundWait        = 15 * time.Second
)

// Check names, as the references name them.
const (
	chkHappy       = "happy path confirms and sells"
	chkDeclined    = "declined payment cancels and releases"
	chkConcurrency = "no overselling under concurrency"
	chkIdempotency = "one order per idempotency key"
	chkCallbacks   = "duplicate callbacks charge once"
	chkCrash       = "crash mid-saga recovers"
	chkBound       = "orders settle within the bound"
)

// goodDesign is the lab's known-good design (with either saga style):
// conditional reservations, idempotency keys everywhere, the outbox, and
// enough consumers for the load.
func goodDesign(saga string) labs.Design {
	return labs.Design{"saga": saga, "reservation": ReserveConditional, "idempotency_keys": true, "outbox": true, "consumers": 4}
}

// references are the exercise's designs with known verdicts: the good one
// in both saga styles and the classic mistakes, each with every check it
// fails. The happy-path and declined checks are failed by no design (the
// tests prove them with a shop whose sale or release step is broken).
func references() []labs.Reference {
	return []labs.Reference{
		{Name: "good-choreography", Design: goodDesign(SagaChoreography)},
		{Name: "good-orchestration", Design: goodDesign(SagaOrchestration)},
		// The crash check's redeliveries reserve one product twice at once.
		{Name: "naive-reservation", Design: labs.Design{"reservation": ReserveNaive, "idempotency_keys": true, "outbox": true},
			Fails: []string{chkConcurrency, chkCrash}},
		{Name: "no-idempotency", Design: labs.Design{"idempotency_keys": false, "outbox": true},
			Fails: []string{chkIdempotency, chkCallbacks, chkCrash}},
		{Name: "dual-write", Design: labs.Design{"idempotency_keys": true, "outbox": false},
			Fails: []string{chkCrash}},
		{Name: "dual-write-no-idempotency", Design: labs.Design{"saga": SagaOrchestration, "idempotency_keys": false, "outbox": false},
			Fails: []string{chkIdempotency, chkCallbacks, chkCrash}},
		{Name: "dead-letter-too-soon", Design: labs.Design{"idempotency_keys": true, "outbox": true, "max_deliveries": 1},
			Fails: []string{chkCrash}},
		{Name: "one-consumer", Design: labs.Design{"idempotency_keys": true, "outbox": true, "consumers": 1},
			Fails: []string{chkBound}},
	}
}

// Exercises are the shop lab's graded tasks.
func (lab) Exercises() []labs.Exercise {
	return []labs.Exercise{orderSagaExercise(), flashExercise(), onceExercise()}
}

// orderSagaExercise is step 1: the order saga's correctness.
func orderSagaExercise() labs.Exercise {
	return labs.Exercise{
		ID:    "shop-order-saga",
		Lab:   "shop",
		Step:  1,
		Title: "An order flow that never oversells and never charges twice",
		Card: []string{
			"A placed order is confirmed once its stock is reserved and its payment authorised, and its units move from available to sold.",
			"A declined payment cancels the order and releases its stock: the shelf ends as it started.",
			fmt.Sprintf("%d concurrent orders for the last %d units of a product confirm exactly %d; the stock never goes negative and always adds up (available + reserved + sold = %d).",
				concOrders, concStock, concStock, concStock),
			"A client retrying POST orders with the same Idempotency-Key gets the same order back: one order, one charge. The same key with a different body is refused with 409.",
			"The payment provider calls back twice and loses some of its answers: every order is charged exactly once.",
			fmt.Sprintf("A consumer that crashes in the middle of a saga step loses nothing: after a restart every order ends confirmed or cancelled within %.0f s, nobody is charged twice, and the stock adds up.",
				crashWait.Seconds()),
			fmt.Sprintf("At %d orders per second, with a provider that answers in %d ms, every order settles (confirmed or cancelled) within %.1f s of being placed.",
				boundRatePerS, boundLatencyMS, float64(boundMS)/1000),
		},
		Scale: "Time-scaled: the provider answers in 5 to 100 ms instead of a second or two, its callbacks come within tens of milliseconds, " +
			"and a crashed consumer is restarted as soon as it has died. Time is judged on the lab's own clock, not the grading machine's: " +
			"each check runs your shop on a clock it moves itself, and moves it only when every service is waiting (for the provider, a timeout, " +
			"claim_idle_ms, a poll). Work takes no time on that clock and every wait takes exactly its length, so a settle time counts the waits " +
			"your design makes (the provider's latency, queueing for a free consumer, timeouts, claims, redeliveries) and never how busy the " +
			"grader is: the same design gets the same times and the same score on any machine. Stock, order counts and rates are as stated. " +
			"Each check sets the shop it runs on itself (stock on the shelf, how the provider behaves): those stand for the world your design meets, not for your choices.",
		Hint: "Read the e-commerce case study: the order saga and its compensations, reserving stock with a conditional update, " +
			"idempotency keys for orders, charges and callbacks, and the transactional outbox. The message queues lesson covers " +
			"consumer groups, claiming pending messages and dead letters.",
		NeedsDB:    true,
		References: references(),
		Checks: []labs.Check{
			{Name: chkHappy, Points: 10, Run: checkHappyPath,
				Requirement: fmt.Sprintf("With %d units of product %d on the shelf and a provider that approves every card, an order for %d is confirmed, "+
					"charged once, and leaves %d available, 0 reserved and %d sold.", happyStock, happyProduct, happyQty, happyStock-happyQty, happyQty)},
			{Name: chkDeclined, Points: 10, Run: checkDeclined,
				Requirement: fmt.Sprintf("With a provider that declines every card, an order for %d units of product %d is cancelled, charged nothing, "+
					"and its reservation is released by a compensating step: %d available, 0 reserved, 0 sold.", failQty, failProduct, happyStock)},
			{Name: chkConcurrency, Points: 20, Run: checkConcurrency,
				Requirement: fmt.Sprintf("%d orders for one unit each of a product with %d units, placed %d at a time (the shop running at least %d consumers per service), "+
					"end with exactly %d confirmed and %d cancelled; the stock never goes negative and available + reserved + sold stays %d.",
					concOrders, concStock, concBurst, concCheckConsumers, concStock, concOrders-concStock, concStock)},
			{Name: chkIdempotency, Points: 15, Run: checkIdempotency,
				Requirement: fmt.Sprintf("POST orders with an Idempotency-Key header, then %d concurrent retries with the same key and body, create one order "+
					"(every answer names it) and one charge; the same key with another body is answered 409.", idemRetries)},
			{Name: chkCallbacks, Points: 15, Run: checkDuplicateCallbacks,
				Requirement: fmt.Sprintf("With every payment callback delivered twice, %.0f%% of the provider's answers lost to timeouts, and each callback replayed "+
					"%d more times, %d orders are confirmed and each is charged exactly once.", dupTimeoutRate*100, dupReplays, dupOrders)},
			{Name: chkCrash, Points: 20, Run: checkCrash,
				Requirement: fmt.Sprintf("Every inventory consumer dies in its next message after committing its change (before publishing or acknowledging), "+
					"and after a restart every one dies again in its next message, this time before committing; %d orders go through this and the dead "+
					"consumers are restarted each time. Within %.0f s of the lab's clock after the last restart every order is confirmed or cancelled, "+
					"none is charged twice, nothing stays reserved, and sold equals the units confirmed.", crashOrders, crashWait.Seconds())},
			{Name: chkBound, Points: 10, Run: checkSettleBound,
				Requirement: fmt.Sprintf("%d orders placed at %d per second, with a provider that answers in %d ms and declines %.0f%% of cards, "+
					"all settle within %d ms of being placed, timed on the lab's clock: the waits your design makes count (the provider's latency, "+
					"queueing for a free consumer, timeouts, claims), the grading machine's speed does not. The message reports p50, p99 and max.",
					boundOrders, boundRatePerS, boundLatencyMS, boundFailureRate*100, boundMS)},
		},
	}
}
