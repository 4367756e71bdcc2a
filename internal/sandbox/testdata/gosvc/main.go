// A Go service for the sandbox's tests: it counts hits in Redis and rows in
// PostgreSQL with the client libraries the Go base image offers.
package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

func main() {
	ropt, err := redis.ParseURL(os.Getenv("REDIS_URL"))
	if err != nil {
		panic(err)
	}
	rdb := redis.NewClient(ropt)
	pool, err := pgxpool.New(context.Background(), os.Getenv("DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	answer := func(w http.ResponseWriter, v any, err error) {
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(v)
	}
	http.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { answer(w, map[string]bool{"ok": true}, nil) })
	http.HandleFunc("GET /redis", func(w http.ResponseWriter, r *http.Request) {
		n, err := rdb.Incr(r.Context(), "hits").Result()
		answer(w, map[string]any{"count": n, "replica": os.Getenv("REPLICA_ID")}, err)
	})
	http.HandleFunc("GET /pg", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		var n int
		_, err := pool.Exec(ctx, "CREATE TABLE IF NOT EXISTS hits (id serial PRIMARY KEY)")
		if err == nil {
			err = pool.QueryRow(ctx, "INSERT INTO hits DEFAULT VALUES RETURNING id").Scan(&n)
		}
		answer(w, map[string]any{"count": n}, err)
	})
	panic(http.ListenAndServe("0.0.0.0:"+os.Getenv("PORT"), nil))
}
