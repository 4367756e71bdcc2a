package redis

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The embedded server must behave like Redis for what the app relies on:
// keys expire with the wall clock, Lua scripts run atomically, TIME is now.
func TestEmbeddedAndRealBehaveAlike(t *testing.T) {
	for _, url := range []string{"", testenv.RedisURL(t)} {
		name := "embedded"
		if url != "" {
			name = "redis"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c, err := Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Embedded != (url == "") {
				t.Fatalf("Embedded = %v", c.Embedded)
			}
			rdb := c.Client
			if err := rdb.Set(ctx, "k", "v", 150*time.Millisecond).Err(); err != nil {
				t.Fatal(err)
			}
			// Poll rather than sleep a fixed time: the key must be gone
			// within a generous bound, and present right after the SET.
			if v, _ := rdb.Get(ctx, "k").Result(); v != "v" {
				t.Fatalf("just set, got %q", v)
			}
			gone := false
			for i := 0; i < 100 && !gone; i++ {
				time.Sleep(20 * time.Millisecond)
				_, err := rdb.Get(ctx, "k").Result()
				gone = err == goredis.Nil
			}
			if !gone {
				t.Error("key with a TTL never expired")
			}
			s := goredis.NewScript(`local n = redis.call('INCR', KEYS[1]); if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end; local t = redis.call('TIME'); return {n, t[1]}`)
			res, err := s.Run(ctx, rdb, []string{"counter"}, 60000).Slice()
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().Unix()
			if res[0].(int64) != 1 {
				t.Errorf("script counter %v", res[0])
			}
			secs, err := strconv.ParseInt(fmt.Sprint(res[1]), 10, 64)
			if err != nil || abs(secs-now) > 5 {
				t.Errorf("TIME %v, want about %d", res[1], now)
			}
			if ttl := rdb.PTTL(ctx, "counter").Val(); ttl <= 0 || ttl > time.Minute {
				t.Errorf("script set TTL %v", ttl)
			}
		})
	}
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// TestEmbeddedRequiresPassword: the embedded server listens on loopback,
// where any local process can connect; without its password a client is
// refused, over go-redis or a bare socket.
func TestEmbeddedRequiresPassword(t *testing.T) {
	ctx := context.Background()
	c, err := Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Client.Set(ctx, "secret", "ours", 0).Err(); err != nil {
		t.Fatalf("our own client: %v", err)
	}
	for name, pw := range map[string]string{"no password": "", "wrong password": "guess"} {
		other := goredis.NewClient(&goredis.Options{Addr: c.Addr(), Password: pw, Protocol: 2, MaxRetries: -1})
		v, err := other.Get(ctx, "secret").Result()
		other.Close()
		if err == nil || v == "ours" {
			t.Errorf("%s: read %q, err %v; want a refusal", name, v, err)
		}
	}
	conn, err := net.DialTimeout("tcp", c.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("*2\r\n$3\r\nGET\r\n$6\r\nsecret\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "-NOAUTH") {
		t.Errorf("a bare GET got %q (%v); want -NOAUTH", line, err)
	}
}
