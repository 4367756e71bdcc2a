package breaker

import (
	"sync"
	"time"
)

// BudgetWindow is how far back a RetryBudget looks, in one-second buckets.
const BudgetWindow = 10 * time.Second

// UnlimitedBudget is the retry_budget that never refuses a retry.
const UnlimitedBudget = 10

const budgetBuckets = int64(BudgetWindow / time.Second)

// RetryBudget lets retries add at most Ratio of the first attempts made in
// the last BudgetWindow: with 0.1, 100 first attempts allow 10 retries.
// When the downstream is healthy retries are rare and always fit; when it
// fails broadly the budget runs out and retries stop multiplying the load.
// 0 allows no retries.
type RetryBudget struct {
	ratio float64
	now   func() time.Time

	mu      sync.Mutex
	buckets [budgetBuckets]budgetBucket // ring, by unix second
}

type budgetBucket struct {
	sec               int64 // the unix second this bucket counts
	requests, retries int
}

// Reservation is a retry the budget allowed; Cancel it if the retry is
// not made after all.
type Reservation struct{ sec int64 }

// NewRetryBudget returns a budget of ratio retries per first attempt; now
// is the clock (nil: time.Now).
func NewRetryBudget(ratio float64, now func() time.Time) *RetryBudget {
	if now == nil {
		now = time.Now
	}
	return &RetryBudget{ratio: ratio, now: now}
}

// bucket returns the current second's bucket, emptied if it last counted
// a second that has left the window.
func (b *RetryBudget) bucket() (*budgetBucket, int64) {
	sec := b.now().Unix()
	bk := &b.buckets[((sec%budgetBuckets)+budgetBuckets)%budgetBuckets]
	if bk.sec != sec {
		*bk = budgetBucket{sec: sec}
	}
	return bk, sec
}

// totals sums the buckets inside the window ending at second sec.
func (b *RetryBudget) totals(sec int64) (requests, retries int) {
	for _, bk := range b.buckets {
		if bk.sec > sec-budgetBuckets && bk.sec <= sec {
			requests += bk.requests
			retries += bk.retries
		}
	}
	return requests, retries
}

// OnRequest counts one first attempt (not a retry).
func (b *RetryBudget) OnRequest() {
	b.mu.Lock()
	bk, _ := b.bucket()
	bk.requests++
	b.mu.Unlock()
}

// Reserve spends budget on one retry, or reports false when the retry
// would take retries above Ratio of first attempts in the window.
func (b *RetryBudget) Reserve() (Reservation, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk, sec := b.bucket()
	if b.ratio >= UnlimitedBudget {
		bk.retries++
		return Reservation{sec: sec}, true
	}
	requests, retries := b.totals(sec)
	// Divide rather than multiply, for the reason recordClosed gives.
	if requests == 0 || float64(retries+1)/float64(requests) > b.ratio {
		return Reservation{}, false
	}
	bk.retries++
	return Reservation{sec: sec}, true
}

// Cancel returns a reservation whose retry was not made.
func (b *RetryBudget) Cancel(r Reservation) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk := &b.buckets[((r.sec%budgetBuckets)+budgetBuckets)%budgetBuckets]
	if bk.sec == r.sec && bk.retries > 0 {
		bk.retries--
	}
}

// Usage reports first attempts and retries in the window now.
func (b *RetryBudget) Usage() (requests, retries int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, sec := b.bucket()
	return b.totals(sec)
}
