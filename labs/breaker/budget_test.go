package breaker

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func reserveAll(b *RetryBudget) int {
	n := 0
	for {
		if _, ok := b.Reserve(); !ok {
			return n
		}
		n++
	}
}

func TestRetryBudgetRatio(t *testing.T) {
	clk := newFakeClock()
	b := NewRetryBudget(0.1, clk.Now)
	if _, ok := b.Reserve(); ok {
		t.Fatal("a retry allowed before any first attempt")
	}
	for range 9 {
		b.OnRequest()
	}
	if n := reserveAll(b); n != 0 {
		t.Fatalf("9 first attempts allowed %d retries at 10%%", n)
	}
	b.OnRequest()
	if n := reserveAll(b); n != 1 {
		t.Fatalf("10 first attempts allowed %d retries, want 1", n)
	}
	for range 20 {
		b.OnRequest()
	}
	if n := reserveAll(b); n != 2 {
		t.Fatalf("30 first attempts allowed %d more retries, want 2", n)
	}

	// A cancelled reservation is returned.
	for range 10 {
		b.OnRequest()
	}
	r, ok := b.Reserve()
	if !ok {
		t.Fatal("no retry for 40 first attempts")
	}
	b.Cancel(r)
	if n := reserveAll(b); n != 1 {
		t.Fatalf("after a cancel, %d retries, want 1", n)
	}

	// The window slides: after BudgetWindow, old attempts and retries are
	// forgotten.
	clk.Advance(BudgetWindow)
	if req, ret := b.Usage(); req != 0 || ret != 0 {
		t.Fatalf("after the window: %d first attempts, %d retries", req, ret)
	}
	if _, ok := b.Reserve(); ok {
		t.Fatal("old first attempts still fund retries")
	}

	// 0 allows none; 1 lets retries match first attempts.
	zero, one := NewRetryBudget(0, clk.Now), NewRetryBudget(1, clk.Now)
	for range 50 {
		zero.OnRequest()
		one.OnRequest()
	}
	if n := reserveAll(zero); n != 0 {
		t.Fatalf("budget 0 allowed %d retries", n)
	}
	if n := reserveAll(one); n != 50 {
		t.Fatalf("budget 1 allowed %d retries for 50 first attempts", n)
	}
}

func TestRetryBudgetConcurrent(t *testing.T) {
	clk := newFakeClock()
	b := NewRetryBudget(0.1, clk.Now)
	var reqs, rets atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				b.OnRequest()
				reqs.Add(1)
				// Every first attempt fails and wants three retries.
				for range 3 {
					if _, ok := b.Reserve(); ok {
						rets.Add(1)
					}
				}
				if (w+i)%100 == 0 {
					clk.Advance(100 * time.Millisecond) // stays inside the window
				}
			}
		})
	}
	wg.Wait()
	if r, q := rets.Load(), reqs.Load(); float64(r) > 0.1*float64(q) || r < int64(0.1*float64(q))-1 {
		t.Fatalf("%d retries for %d first attempts; want 10%%", r, q)
	}
}
