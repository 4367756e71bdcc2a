// Command benchbase serves the baselines the HTTP benchmark
// (scripts/bench-http.sh) compares the workbook against, each on its own
// address in one process:
//
//   - a static page: the bytes of a file, as net/http sends them;
//   - a bare 301: net/http answering a redirect and doing nothing else;
//   - one Redis GET: net/http reading one key, then 301 (found) or 200.
//
// With no -redis URL it reaches the same embedded Redis-protocol server
// the workbook's default uses, so each backend is compared with a
// baseline on the same Redis.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/internal/redis"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchbase:", err)
		os.Exit(1)
	}
}

func run() error {
	staticFile := flag.String("static", "", "file served at every path of -static-addr")
	staticAddr := flag.String("static-addr", "127.0.0.1:18811", "address of the static page")
	bareAddr := flag.String("redirect-addr", "127.0.0.1:18812", "address of the bare 301")
	getAddr := flag.String("redis-addr", "127.0.0.1:18813", "address of the handler doing one Redis GET")
	redisURL := flag.String("redis", "", "Redis URL (empty: an embedded Redis-protocol server)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	page, err := os.ReadFile(*staticFile)
	if err != nil {
		return err
	}
	conn, err := redis.Open(ctx, *redisURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Client.Set(ctx, "benchbase:hot", "https://example.org/x", 0).Err(); err != nil {
		return err
	}
	servers := []*http.Server{
		{Addr: *staticAddr, Handler: staticHandler(page)},
		{Addr: *bareAddr, Handler: http.HandlerFunc(bareRedirect)},
		{Addr: *getAddr, Handler: redisGet(conn.Client)},
	}
	errs := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errs <- s.ListenAndServe() }()
	}
	log.Printf("benchbase: static %s, 301 %s, Redis GET %s", *staticAddr, *bareAddr, *getAddr)
	select {
	case err := <-errs:
		return err
	case <-ctx.Done():
	}
	for _, s := range servers {
		_ = s.Close()
	}
	return nil
}

// staticHandler sends page as an HTML page, with the headers a page of the
// workbook carries, from memory.
func staticHandler(page []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(page)
	})
}

func bareRedirect(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "https://example.org/x", http.StatusMovedPermanently)
}

// redisGet reads one key; a POST (the limiter's decision) answers 200 with
// a small JSON body, a GET redirects to the value.
func redisGet(rdb *goredis.Client) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := rdb.Get(r.Context(), "benchbase:hot").Result()
		if err != nil {
			http.Error(w, "redis: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if r.Method == http.MethodPost {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"allowed":true,"remaining":9}` + "\n"))
			return
		}
		http.Redirect(w, r, v, http.StatusMovedPermanently)
	})
}
