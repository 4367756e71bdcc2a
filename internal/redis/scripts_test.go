package redis

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/internal/testenv"
)

// The embedded server reuses Lua states between scripts, as Redis does;
// what one run leaves must not show in the next: KEYS and ARGV are each
// run's own, a failed script leaves no trace, globals stay refused, and
// runs on many connections at once keep to their own arguments. The same
// expectations hold on Redis.
func TestScriptsRunAlikeRunAfterRun(t *testing.T) {
	for _, url := range []string{"", testenv.RedisURL(t)} {
		name := map[bool]string{true: "embedded", false: "redis"}[url == ""]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c, err := Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			rdb := c.Client
			count := goredis.NewScript(`return {#KEYS, #ARGV, KEYS[1] or "", ARGV[1] or ""}`)
			want := func(keys []string, args []any, wantOut string) {
				t.Helper()
				res, err := count.Run(ctx, rdb, keys, args...).Slice()
				if err != nil {
					t.Fatal(err)
				}
				if got := fmt.Sprint(res); got != wantOut {
					t.Fatalf("KEYS/ARGV %s, want %s", got, wantOut)
				}
			}
			want([]string{"a", "b", "c"}, []any{"x", "y"}, "[3 2 a x]")
			want(nil, nil, "[0 0  ]")

			// A script that fails half-way: its error, and the next run is clean.
			failing := goredis.NewScript(`redis.call('SET', KEYS[1], 'before'); return redis.call('NOSUCHCOMMAND')`)
			if err := failing.Run(ctx, rdb, []string{"half"}).Err(); err == nil {
				t.Fatal("a script calling an unknown command did not fail")
			}
			want([]string{"k"}, nil, "[1 0 k ]")

			// Globals stay refused, run after run.
			for range 3 {
				err := goredis.NewScript(`leak = 1; return 1`).Run(ctx, rdb, nil).Err()
				if err == nil || !(strings.Contains(err.Error(), "global") || strings.Contains(err.Error(), "readonly")) {
					t.Fatalf("a script set a global: %v", err)
				}
			}
			if v, err := goredis.NewScript(`return type(rawget(_G, 'leak'))`).Run(ctx, rdb, nil).Text(); err != nil || v != "nil" {
				t.Fatalf("a refused global is there afterwards: %q %v", v, err)
			}

			// pcall turns an error into a value, and the run goes on.
			v, err := goredis.NewScript(`local ok = redis.pcall('NOSUCHCOMMAND'); if type(ok) == 'table' and ok.err then return 'caught' end; return 'missed'`).Run(ctx, rdb, nil).Text()
			if err != nil || v != "caught" {
				t.Fatalf("pcall: %q %v", v, err)
			}

			// Many connections at once: each run sees its own arguments.
			echo := goredis.NewScript(`redis.call('INCR', KEYS[1]); return KEYS[1] .. '=' .. ARGV[1]`)
			var wg sync.WaitGroup
			errs := make(chan error, 400)
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 50 {
						key, arg := fmt.Sprintf("conc-%d", g), fmt.Sprint(i)
						v, err := echo.Run(ctx, rdb, []string{key}, arg).Text()
						if err != nil || v != key+"="+arg {
							errs <- fmt.Errorf("run %s %s answered %q, %v", key, arg, v, err)
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			for g := range 8 {
				if n, _ := rdb.Get(ctx, fmt.Sprintf("conc-%d", g)).Int(); n != 50 {
					t.Fatalf("conc-%d counted %d, want 50", g, n)
				}
			}
		})
	}
}
