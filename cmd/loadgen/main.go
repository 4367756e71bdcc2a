// Command loadgen sends requests at a fixed offered rate (open loop, like
// wrk2) and prints the 50th and 99th percentile latency, measured from
// the moment each request was due, so a server that falls behind pays
// for the queue it causes (no coordinated omission).
//
//	loadgen -url http://127.0.0.1:8080/lessons/cap -rate 1000 -d 4s -H 'Cookie: …'
//
// Output, one line: p50_ms p99_ms sent failed
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	var hs headers
	url := flag.String("url", "", "URL to request")
	method := flag.String("method", http.MethodGet, "HTTP method")
	rate := flag.Int("rate", 1000, "requests per second offered")
	dur := flag.Duration("d", 4*time.Second, "how long to send")
	conns := flag.Int("c", 64, "connections at most")
	flag.Var(&hs, "H", "header 'Name: value' (repeatable)")
	flag.Parse()
	if *url == "" || *rate <= 0 {
		fmt.Fprintln(os.Stderr, "loadgen: -url and a positive -rate are required")
		os.Exit(2)
	}
	lat, failed := send(*url, *method, hs, *rate, *dur, *conns)
	if len(lat) == 0 {
		fmt.Fprintln(os.Stderr, "loadgen: no request succeeded")
		os.Exit(1)
	}
	slices.Sort(lat)
	fmt.Printf("%.3f %.3f %d %d\n", ms(pct(lat, 50)), ms(pct(lat, 99)), len(lat)+failed, failed)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(i-1, len(sorted)-1))]
}

// send schedules rate×dur requests at even intervals; conns workers take
// them as they fall due. A request's latency runs from when it was due.
func send(url, method string, hs headers, rate int, dur time.Duration, conns int) ([]time.Duration, int) {
	client := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns},
		// A redirect is the answer being measured, not something to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	n := int(float64(rate) * dur.Seconds())
	due := make(chan time.Time, n)
	var (
		mu     sync.Mutex
		lat    = make([]time.Duration, 0, n)
		failed int
		wg     sync.WaitGroup
	)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range due {
				if d := time.Until(t); d > 0 {
					time.Sleep(d)
				}
				ok := once(client, url, method, hs)
				took := time.Since(t)
				mu.Lock()
				if ok {
					lat = append(lat, took)
				} else {
					failed++
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := range n {
		due <- start.Add(time.Duration(i) * interval)
	}
	close(due)
	wg.Wait()
	return lat, failed
}

// once sends one request; any answer below 500 counts (a limiter's 429 is
// an answer).
func once(client *http.Client, url, method string, hs headers) bool {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return false
	}
	for _, h := range hs {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode < 500
}
