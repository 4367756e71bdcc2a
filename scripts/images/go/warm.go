// Warms the Go image's build cache: compiling a program that imports the
// two client libraries the image offers leaves their compiled packages in
// GOCACHE, so a learner's service builds in seconds.
package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

func main() {
	rc := redis.NewClient(&redis.Options{Addr: "redis:6379"})
	defer rc.Close()
	cfg, err := pgxpool.ParseConfig("postgres://u:p@postgres:5432/db")
	fmt.Println(cfg != nil, err)
	_, err = pgx.Connect(context.Background(), "postgres://u:p@postgres:5432/db")
	fmt.Println(err)
}
