package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/config"
)

// Lines other than request lines are in the log when the call returns;
// request lines are there after Close, all of them, whole and in order per
// writer.
func TestAsyncLogKeepsEveryLine(t *testing.T) {
	var out syncBuffer
	w := newAsyncWriter(&out)
	log := newLogger(config.Config{LogLevel: "info", LogFormat: "text"}, w)
	log.Info("announcing", "url", "http://example.org/setup/abc")
	if !strings.Contains(out.String(), "setup/abc") {
		t.Fatalf("a line other than a request line is not in the log when the call returns: %q", out.String())
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				log.Info("request", "g", g, "i", i, "path", strings.Repeat("x", 100))
			}
		}()
	}
	wg.Wait()
	log.Log(context.Background(), slog.LevelWarn, "after")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1+8*500+1 {
		t.Fatalf("%d lines in the log, want %d", len(lines), 1+8*500+1)
	}
	next := map[string]int{}
	for _, l := range lines[1 : len(lines)-1] {
		var g, i string
		for _, f := range strings.Fields(l) {
			if v, ok := strings.CutPrefix(f, "g="); ok {
				g = v
			}
			if v, ok := strings.CutPrefix(f, "i="); ok {
				i = v
			}
		}
		if want := next[g]; i != itoa(want) || !strings.HasSuffix(l, strings.Repeat("x", 100)) {
			t.Fatalf("line %q: want i=%d of g=%s, whole", l, want, g)
		}
		next[g]++
	}
	if !strings.Contains(lines[len(lines)-1], "after") {
		t.Fatalf("last line %q", lines[len(lines)-1])
	}
	log.Info("request", "late", true) // after Close: written directly
	if !strings.Contains(out.String(), "late=true") {
		t.Fatal("a line after Close is lost")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// The JSON log writes durations as milliseconds, the unit in the key.
func TestJSONLogDurationsInMilliseconds(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(config.Config{LogFormat: "json", LogLevel: "info"}, &buf)
	log.Info("done", "took", 1500*time.Microsecond, "timeout_ms", 2*time.Second, "n", 3)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["took_ms"] != 1.5 || rec["timeout_ms"] != 2000.0 || rec["n"] != 3.0 || rec["took"] != nil {
		t.Fatalf("log line %s", buf.Bytes())
	}
}
