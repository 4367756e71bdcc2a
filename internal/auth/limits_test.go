package auth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/redis"
	"github.com/sdworkbook/workbook/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestLimiterCountsAtomically: 200 attempts at once against a limit of 10
// admit exactly 10, on the embedded server and on real Redis; refused
// attempts count against nothing.
func TestLimiterCountsAtomically(t *testing.T) {
	for _, url := range []string{"", testenv.RedisURL(t)} {
		name := map[bool]string{true: "embedded", false: "redis"}[url == ""]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			conn, err := redis.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			l := NewLimiter(conn.Client)
			att := DefaultLoginLimits.For("lin@example.org", "192.0.2.1")

			var admitted atomic.Int64
			var wg sync.WaitGroup
			for range 200 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					wait, err := l.Take(ctx, att.Limits()...)
					if err != nil {
						t.Error(err)
						return
					}
					if wait == 0 {
						admitted.Add(1)
					} else if wait > att.Pair.Window {
						t.Errorf("wait %v beyond the window", wait)
					}
				}()
			}
			wg.Wait()
			if n := admitted.Load(); n != att.Pair.Max {
				t.Fatalf("%d attempts admitted; want %d", n, att.Pair.Max)
			}
			for _, k := range []string{att.Pair.Key, att.Account.Key, att.IP.Key} {
				if n, _ := conn.Client.Get(ctx, k).Int64(); n != att.Pair.Max {
					t.Errorf("%s = %d; want %d (refused attempts count nothing)", k, n, att.Pair.Max)
				}
				if ttl := conn.Client.PTTL(ctx, k).Val(); ttl <= 0 || ttl > att.Pair.Window {
					t.Errorf("%s expires in %v", k, ttl)
				}
			}

			// Giving back reopens the limit by one; it never goes below zero
			// nor creates a counter that was not there.
			if err := l.GiveBack(ctx, att.Pair.Key, "throttle:test:absent"); err != nil {
				t.Fatal(err)
			}
			if n, _ := conn.Client.Exists(ctx, "throttle:test:absent").Result(); n != 0 {
				t.Error("giving back created a counter")
			}
			if wait, err := l.Take(ctx, att.Limits()...); err != nil || wait != 0 {
				t.Errorf("after giving one back: wait %v, %v", wait, err)
			}
			if wait, _ := l.Take(ctx, att.Limits()...); wait == 0 {
				t.Error("the limit admitted one more than given back")
			}

			// A counter that somehow lost its expiry gets one instead of
			// blocking forever.
			lim := Limit{Key: "throttle:test:stuck", Max: 1, Window: time.Minute}
			conn.Client.Set(ctx, lim.Key, 5, 0)
			if wait, err := l.Take(ctx, lim); err != nil || wait <= 0 || wait > time.Minute {
				t.Errorf("stuck counter: wait %v, %v", wait, err)
			}
			if ttl := conn.Client.PTTL(ctx, lim.Key).Val(); ttl <= 0 {
				t.Errorf("stuck counter still has no expiry (%v)", ttl)
			}
		})
	}
}

// TestHasherBounds: with one slot and one place in line, a third hash is
// refused at once with ErrBusy, and the other two complete.
func TestHasherBounds(t *testing.T) {
	h := NewHasher(1, 1)
	entered, release := make(chan struct{}, 2), make(chan struct{})
	h.OnHash = func() {
		entered <- struct{}{}
		<-release
	}
	hash, err := NewHasher(1, 0).Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 2)
	verify := func() {
		ok, err := h.Verify(hash, "correct horse battery")
		if err == nil && !ok {
			err = errors.New("the right password did not verify")
		}
		results <- err
	}
	go verify()
	<-entered // one running
	go verify()
	for len(h.places) < 2 { // the second is in line: not a timing assertion, a wait for state
		time.Sleep(time.Millisecond)
	}
	if _, err := h.Hash("another password"); !errors.Is(err, ErrBusy) {
		t.Errorf("third hash: %v, want ErrBusy", err)
	}
	if err := h.VerifyNothing("x"); !errors.Is(err, ErrBusy) {
		t.Errorf("VerifyNothing at capacity: %v, want ErrBusy", err)
	}
	close(release)
	for range 2 {
		if err := <-results; err != nil {
			t.Error(err)
		}
	}
	if len(h.places) != 0 || len(h.running) != 0 {
		t.Errorf("slots not returned: %d places, %d running", len(h.places), len(h.running))
	}
}
