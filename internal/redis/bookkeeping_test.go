package redis

import (
	"context"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The embedded server forgets key names that are gone: a limiter that
// names a key per window writes a new name every window, and 100,000 of
// them, once expired or deleted, leave nothing behind (they used to stay in
// the server's maps for good).
func TestEmbeddedForgetsExpiredKeyNames(t *testing.T) {
	ctx := context.Background()
	c, err := Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.sweeper == nil {
		t.Fatal("the embedded server's bookkeeping cannot be swept with this miniredis release")
	}
	// The sweep may run while the names below are written (every 5 s; a
	// busy machine writes slowly), so that the test reads the server's
	// maps is shown on a key that stays.
	if err := c.Client.Set(ctx, "kept", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if book, keys := c.sweeper.entries(); keys != 1 || book < 2 {
		t.Fatalf("%d keys and %d bookkeeping entries after writing one key: the test no longer sees the server's maps", keys, book)
	}
	const n = 100_000
	for batch := 0; batch < n; batch += 1000 {
		pipe := c.Client.Pipeline()
		for i := batch; i < batch+1000; i++ {
			key := fmt.Sprintf("limiter:window:%d", i)
			if i%10 == 0 {
				pipe.Set(ctx, key, "1", 0)
				pipe.Del(ctx, key) // deleted rather than expired
			} else {
				pipe.Incr(ctx, key)
				pipe.PExpire(ctx, key, 200*time.Millisecond)
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The server's own clock expires the keys and its sweep removes what is
	// left of them; wait for both (a bound on waiting, not on speed).
	deadline := time.Now().Add(2 * time.Minute)
	for {
		book, keys := c.sweeper.entries()
		if keys == 1 && book <= 2 { // "kept": its version and its time of use
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the keys expired: %d keys and %d bookkeeping entries remain, want 1 and at most 2", keys, book)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v, err := c.Client.Get(ctx, "kept").Result(); err != nil || v != "1" {
		t.Fatalf("a key that did not expire: %q, %v", v, err)
	}
}

// A name under WATCH keeps its version while swept, so a transaction that
// watched a key that was then deleted still fails.
func TestEmbeddedSweepKeepsWatchedNames(t *testing.T) {
	ctx := context.Background()
	c, err := Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rdb := c.Client
	if err := rdb.Set(ctx, "w", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	err = rdb.Watch(ctx, func(tx *goredis.Tx) error {
		if err := rdb.Del(ctx, "w").Err(); err != nil { // another client changes it
			return err
		}
		c.sweeper.sweep()
		_, err := tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Set(ctx, "w", "2", 0)
			return nil
		})
		return err
	}, "w")
	if err == nil {
		t.Fatal("the transaction ran although its watched key was deleted")
	}
}
