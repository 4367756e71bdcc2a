package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// phaseReport is what one phase's requests came to.
type phaseReport struct {
	name        string
	requests    int
	errors      int
	byStatus    map[string]int // errors by status
	depsFree    int            // errors of requests that need neither PostgreSQL nor Redis
	lab         int            // errors of the lab pokes
	streak      int            // longest run of errors one after another
	streakSpan  time.Duration  // how long that run lasted
	slowest     time.Duration
	slowName    string         // the kind of request that was slowest
	slowKinds   map[string]int // timeouts by kind of request
	rate        float64        // requests per second over the phase
	recovery    time.Duration  // from the fault's end to the end of its last error
	worthSecond float64        // errors as seconds of requests at the phase's rate
}

func summarize(name string, rs []result, back time.Time) phaseReport {
	p := phaseReport{name: name, requests: len(rs), byStatus: map[string]int{}, slowKinds: map[string]int{}}
	sort.Slice(rs, func(i, j int) bool { return rs[i].end.Before(rs[j].end) })
	run := 0
	var runStart time.Time
	var lastErr time.Time
	for _, r := range rs {
		if d := r.end.Sub(r.start); d > p.slowest {
			p.slowest, p.slowName = d, r.name
		}
		if r.ok {
			run = 0
			continue
		}
		p.errors++
		p.byStatus[r.status]++
		if r.status == "timeout" {
			p.slowKinds[r.name]++
		}
		if !r.needsDeps {
			p.depsFree++
		}
		if r.name == "lab poke" {
			p.lab++
		}
		if run == 0 {
			runStart = r.start
		}
		run++
		if run > p.streak {
			p.streak, p.streakSpan = run, r.end.Sub(runStart)
		}
		lastErr = r.end
	}
	if len(rs) > 1 {
		if span := rs[len(rs)-1].end.Sub(rs[0].start).Seconds(); span > 0 {
			p.rate = float64(len(rs)) / span
		}
	}
	if lastErr.After(back) {
		p.recovery = lastErr.Sub(back)
	}
	if p.rate > 0 {
		p.worthSecond = float64(p.errors) / p.rate
	}
	return p
}

func (p phaseReport) print(w io.Writer) {
	var st []string
	for _, k := range slices.Sorted(maps.Keys(p.byStatus)) {
		st = append(st, fmt.Sprintf("%s×%d", k, p.byStatus[k]))
	}
	if len(st) == 0 {
		st = []string{"none"}
	}
	fmt.Fprintf(w, "%-22s %6d requests (%.0f/s)  errors %d = %.2f s worth [%s]  of pages needing neither database nor Redis: %d  of lab pokes: %d\n",
		p.name, p.requests, p.rate, p.errors, p.worthSecond, strings.Join(st, " "), p.depsFree, p.lab)
	fmt.Fprintf(w, "%-22s longest error streak %d (%.1f s)  recovered %.1f s after the fault ended  slowest request %.2f s (%s)\n",
		"", p.streak, p.streakSpan.Seconds(), p.recovery.Seconds(), p.slowest.Seconds(), p.slowName)
}

// goals are the issue's: a replica kill costs at most a second of
// requests, no request waits more than 5 s (a timeout is an error), the
// app is back within 2 s of a dependency, and pages that need neither
// dependency never fail.
func (p phaseReport) misses(kind string) []string {
	var m []string
	if n := p.byStatus["timeout"]; n > 0 || p.slowest > requestTimeout {
		m = append(m, fmt.Sprintf("%s: %d requests timed out (slowest %.1f s; by kind %v)", p.name, n, p.slowest.Seconds(), p.slowKinds))
	}
	if n := p.byStatus["503 without Retry-After"]; n > 0 {
		m = append(m, fmt.Sprintf("%s: %d answers of 503 without Retry-After (not the app's own 503)", p.name, n))
	}
	switch kind {
	case "replica":
		if p.worthSecond > 1 {
			m = append(m, fmt.Sprintf("%s: %d failed requests, %.2f s worth (goal ≤ 1 s)", p.name, p.errors, p.worthSecond))
		}
	case "redis", "postgres":
		if p.recovery > 2*time.Second {
			m = append(m, fmt.Sprintf("%s: recovered %.1f s after the dependency returned (goal ≤ 2 s)", p.name, p.recovery.Seconds()))
		}
		if p.depsFree > 0 {
			m = append(m, fmt.Sprintf("%s: %d requests that need neither dependency failed", p.name, p.depsFree))
		}
	}
	return m
}
