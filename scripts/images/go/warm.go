// Warms the Go image's build cache: compiling a program that imports the
// two client libraries the image offers, and the standard packages an HTTP
// service is written with, leaves their compiled packages in GOCACHE, so a
// learner's service builds in seconds (net/http alone is most of a
// minute on one CPU).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

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
	// The standard library a service uses; none of it runs.
	if len(os.Args) > 99 {
		var mu sync.Mutex
		var n atomic.Int64
		mu.Lock()
		n.Add(1)
		mu.Unlock()
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		big.NewInt(int64(mrand.IntN(10)))
		u, _ := url.Parse(hex.EncodeToString(b))
		_ = json.NewEncoder(io.Discard).Encode(u)
		_, _ = net.Dial("tcp", strconv.Itoa(int(n.Load())))
		signal.Notify(make(chan os.Signal, 1), syscall.SIGTERM)
		slog.Info(strings.ToUpper("warm"), "err", errors.New("x"))
		log.Fatal(http.ListenAndServe(":8080", http.TimeoutHandler(http.NotFoundHandler(), time.Second, "")))
	}
}
