package shortener

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// instanceServer serves inst's routes under base over real HTTP, the way
// the web layer dispatches them.
func instanceServer(inst labs.Instance, base string) *httptest.Server {
	return httptest.NewServer(http.StripPrefix(strings.TrimSuffix(base, "/"), inst.(interface{ Handler() http.Handler }).Handler()))
}

// hammer sends n GETs to url from conc clients over kept-alive connections
// without following redirects, and returns how long they took.
func hammer(b *testing.B, client *http.Client, url string, n, conc int, want int) time.Duration {
	b.Helper()
	var wg sync.WaitGroup
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	var bad sync.Once
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				resp, err := client.Get(url)
				if err != nil {
					bad.Do(func() { b.Error(err) })
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != want {
					bad.Do(func() { b.Errorf("%s: %d", url, resp.StatusCode) })
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkHotRedirect measures the throughput of GET r/{code} for one hot
// link over real HTTP (net/http server and client in this process, 16
// clients, keep-alive), with cache redis_and_local and with cache redis,
// against a bare handler that answers the same 301 without looking
// anything up, all in the same run on the embedded environment. Each
// iteration is one round of 2,000 requests to each server in turn; the
// ratios are of requests per second.
func BenchmarkHotRedirect(b *testing.B) {
	const (
		base  = "/api/labs/shortener/instances/bench/"
		perOp = 2000
		conc  = 16
	)
	env := labtest.Env(b, testenv.Backend{Name: "embedded", DataDir: b.TempDir()}, "bench")
	ctx := context.Background()
	local := launch(b, withID(env, "benchlocal"), map[string]any{"cache": CacheLocal})
	redis := launch(b, withID(env, "benchredis"), map[string]any{"cache": CacheRedis})
	target := "https://example.org/hot/link?ref=bench"
	var codes [2]string
	for i, in := range []*instance{local, redis} {
		l, _, err := in.create(ctx, createRequest{URL: target})
		if err != nil {
			b.Fatal(err)
		}
		codes[i] = l.Code
		if o, _ := in.redirect(ctx, l.Code, true); o.status != http.StatusMovedPermanently {
			b.Fatalf("warm-up: %d", o.status)
		}
	}
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", target)
		w.WriteHeader(http.StatusMovedPermanently)
	}))
	defer bare.Close()
	srvLocal, srvRedis := instanceServer(local, base), instanceServer(redis, base)
	defer srvLocal.Close()
	defer srvRedis.Close()
	client := &http.Client{
		Transport:     &http.Transport{MaxIdleConns: 3 * conc, MaxIdleConnsPerHost: conc, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	urls := []string{bare.URL + "/r/x", srvLocal.URL + base + "r/" + codes[0], srvRedis.URL + base + "r/" + codes[1]}
	for _, u := range urls { // open the connections before timing
		hammer(b, client, u, 200, conc, http.StatusMovedPermanently)
	}
	var took [3]time.Duration
	b.ResetTimer()
	for b.Loop() {
		for i, u := range urls {
			took[i] += hammer(b, client, u, perOp, conc, http.StatusMovedPermanently)
		}
	}
	b.StopTimer()
	rate := func(d time.Duration) float64 { return float64(b.N*perOp) / d.Seconds() }
	b.ReportMetric(rate(took[0]), "bare-req/s")
	b.ReportMetric(rate(took[1]), "local-req/s")
	b.ReportMetric(rate(took[2]), "redis-req/s")
	b.ReportMetric(rate(took[1])/rate(took[0]), "local/bare")
	b.ReportMetric(rate(took[2])/rate(took[0]), "redis/bare")
	if local.redisHits.Load() != 0 || local.dbHits.Load() != 1 {
		b.Errorf("redis_and_local: %d Redis and %d database lookups; the hot link should be served from memory", local.redisHits.Load(), local.dbHits.Load())
	}
	b.ReportMetric(0, "ns/op")
}
