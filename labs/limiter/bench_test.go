package limiter

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/labs/labhttp"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// BenchmarkDecision measures the limiter's HTTP decision handler against a
// baseline handler that does one Redis GET and answers, on the same Redis
// in the same run: the ratio of their ns/op is the limiter's cost.
func BenchmarkDecision(b *testing.B) {
	for _, e := range labtest.Envs(b, "bench") {
		in := launch(b, e.Env, designFor(SlidingWindow, 10000, 1000, 0, 1, StorageRedis))
		rdb := e.Env.Redis
		ctx := context.Background()
		if err := rdb.Set(ctx, e.Env.Prefix+"base", "v", 0).Err(); err != nil {
			b.Fatal(err)
		}
		baseline := func(w http.ResponseWriter, r *http.Request) {
			v, err := rdb.Get(r.Context(), e.Env.Prefix+"base").Result()
			if err != nil && !errors.Is(err, goredis.Nil) {
				labhttp.WriteError(w, r, labhttp.Unavailable(err, "Redis failed."))
				return
			}
			labhttp.WriteJSON(w, http.StatusOK, map[string]string{"key": r.URL.Query().Get("key"), "value": v})
		}
		limiter := in.Handler()
		targets := make([]string, 100)
		for i := range targets {
			targets[i] = "/request?key=k" + strconv.Itoa(i)
		}
		run := func(handle func(w http.ResponseWriter, r *http.Request)) func(b *testing.B) {
			return func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					rec := httptest.NewRecorder()
					handle(rec, httptest.NewRequest(http.MethodPost, targets[i%len(targets)], nil))
					if rec.Code != http.StatusOK && rec.Code != http.StatusTooManyRequests {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
			}
		}
		b.Run(e.Name+"/baseline", run(baseline))
		b.Run(e.Name+"/limiter", run(limiter.ServeHTTP))
	}
}

// One decision is one round trip: on a real Redis, each decision adds
// exactly one EVALSHA to the server's command statistics (and no EVAL), and
// MONITOR shows that the client sends nothing else; every other command is
// the script's own, which MONITOR tags "lua" (and INFO commandstats counts
// as well, so it cannot tell them apart on its own).
func TestOneRoundTripPerDecision(t *testing.T) {
	const decisions = 25
	for _, e := range labtest.Envs(t, "rtt") {
		if e.Name == "embedded" {
			continue // the embedded server keeps no command statistics
		}
		for _, alg := range algorithms {
			t.Run(alg, func(t *testing.T) {
				in := launch(t, withID(e.Env, "rtt"+short(alg)), designFor(alg, 5, 1000, 2, 3, StorageRedis))
				ctx := context.Background()
				// Warm the connection pool so no handshake is counted.
				if _, err := in.Hit(ctx, "warm"); err != nil {
					t.Fatal(err)
				}
				before := commandCalls(t, e.Env.Redis)
				mon := monitor(t, e.Env.Redis.Options().Addr)
				for i := range decisions {
					if _, err := in.Hit(ctx, "k"+strconv.Itoa(i%3)); err != nil {
						t.Fatal(err)
					}
				}
				sent := mon.until(t, e.Env.Redis, "done-"+alg)
				after := commandCalls(t, e.Env.Redis)

				if n := after["evalsha"] - before["evalsha"]; n != decisions {
					t.Errorf("evalsha: %d calls during %d decisions", n, decisions)
				}
				if n := after["eval"] - before["eval"]; n != 0 {
					t.Errorf("eval: %d calls during %d decisions", n, decisions)
				}
				if len(sent) != decisions {
					t.Errorf("the client sent %d commands for %d decisions: %v", len(sent), decisions, sent)
				}
				for _, c := range sent {
					if c != "evalsha" {
						t.Errorf("the client sent %s for a decision", c)
					}
				}
			})
		}
	}
}

// monitorConn is a connection in MONITOR mode, reading what Redis runs.
type monitorConn struct {
	conn  net.Conn
	lines chan string
}

func monitor(t *testing.T, addr string) *monitorConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		conn.Close()
	})
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	if ok, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(ok, "+OK") {
		t.Fatalf("MONITOR: %q %v", ok, err)
	}
	m := &monitorConn{conn: conn, lines: make(chan string, 1024)}
	go func() {
		defer close(m.lines)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			select {
			case m.lines <- line:
			case <-done:
				return
			}
		}
	}()
	return m
}

// until sends ECHO sentinel and returns the commands clients sent before it
// (lower case), leaving out those scripts ran.
func (m *monitorConn) until(t *testing.T, rdb *goredis.Client, sentinel string) []string {
	t.Helper()
	if err := rdb.Echo(context.Background(), sentinel).Err(); err != nil {
		t.Fatal(err)
	}
	var sent []string
	for line := range m.lines {
		// +1700000000.123456 [0 127.0.0.1:5000] "evalsha" "…" …, or [0 lua]
		_, rest, ok := strings.Cut(line, " [")
		if !ok {
			continue
		}
		from, cmd, _ := strings.Cut(rest, "] ")
		if strings.HasSuffix(from, " lua") {
			continue
		}
		if strings.Contains(cmd, sentinel) {
			return sent
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(cmd, `"`), `"`)
		sent = append(sent, strings.ToLower(name))
	}
	t.Fatal("MONITOR ended before the sentinel")
	return nil
}

// commandCalls reads INFO commandstats: calls per command.
func commandCalls(t *testing.T, rdb *goredis.Client) map[string]int64 {
	t.Helper()
	s, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(s, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		n, err := strconv.ParseInt(calls, 10, 64)
		if err != nil {
			t.Fatalf("INFO line %q: %v", line, err)
		}
		out[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	if len(out) == 0 {
		t.Fatalf("INFO commandstats has no command lines:\n%s", s)
	}
	return out
}
