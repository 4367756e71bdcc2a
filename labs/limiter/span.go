package limiter

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// spanned is one answer of the boundary attack, timed relative to the
// boundary on the limiter's clock.
type spanned struct {
	burst int
	answer
}

func checkSlidingSpan(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, clock, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	// Aim at a window boundary of the design where it has them; otherwise
	// any moment will do, as the design keeps no boundary to exploit.
	w := int64(tg.Design().Int("window_ms"))
	earliest := clock.Now().UnixMilli() + spanLead.Milliseconds()
	boundary, aligned := earliest, false
	if windowed(tg.Design()) {
		boundary, aligned = (earliest+w-1)/w*w, true
	}
	all, at, err := spanBursts(ctx, tg, clock, boundary, w)
	if err != nil {
		return labs.Broken(err)
	}
	m := measureSpan(all, boundary, len(at))
	chart := spanChart(m.all, m.inSpan)
	var seen string
	if aligned {
		chart.XLabel = "ms from the window boundary"
		seen = fmt.Sprintf("%d requests %d ms before a window boundary of the design and %d more %d ms after it: %d admitted in the first burst and %d in the second",
			spanBurst, spanLead.Milliseconds(), quota, spanAfter.Milliseconds(), m.byBurst[1], m.byBurst[2])
	} else {
		chart.XLabel = "ms from the moment between the bursts"
		seen = fmt.Sprintf("%d requests at once and %d more %d ms later (%s): %d admitted in the first burst and %d in the second",
			spanBurst, quota, at[1]-at[0], noBoundary(tg.Design()), m.byBurst[1], m.byBurst[2])
	}
	if len(at) > 2 {
		seen += fmt.Sprintf("; then, since the design's window is only %d ms, %d more once that window had passed, %d ms after the first burst: %d admitted",
			w, spanBurst, at[2]-at[0], m.byBurst[3])
	}
	var o labs.Outcome
	if m.worst <= quota {
		o = labs.Pass("Sent %s. At most %d were admitted in any 2 s span; the quota is %d.", seen, m.worst, quota)
	} else {
		o = labs.Fail("Sent %s. %d were admitted in the 2 s up to %+d ms (all admitted within %d ms); at most %d are allowed in any 2 s span.%s",
			seen, m.worst, m.worstAt, m.spanMS, quota, because(spanReasons(tg.Design(), m.after)))
	}
	o.Chart = chart
	return o
}

// noBoundary says why the attack aims at no window boundary.
func noBoundary(d labs.Design) string {
	if d == nil {
		return "the check does not know where the service's windows start"
	}
	return d.String("algorithm") + " keeps no window boundary to aim at"
}

// spanBursts sends the boundary attack, relative to boundary on the
// target's time: a burst before it, one just after, and when the design's
// window w is shorter than the quota's, one more as soon as that window
// has passed since the first burst, still within 2 s of it. It returns
// every answer and when each burst was sent, relative to the boundary.
func spanBursts(ctx context.Context, tg labs.Target, clock labs.Timeline, boundary, w int64) ([]spanned, []int64, error) {
	const key = "client-a"
	var (
		all   []spanned
		sends = []int64{-spanLead.Milliseconds(), spanAfter.Milliseconds()}
		sizes = []int{spanBurst, quota}
	)
	for i := 0; i < len(sends); i++ {
		if err := clock.AdvanceTo(ctx, time.UnixMilli(boundary+sends[i])); err != nil {
			return nil, nil, err
		}
		as, err := together(ctx, tg, key, sizes[i], spanWorkers)
		if err != nil {
			return nil, nil, err
		}
		for _, a := range as {
			all = append(all, spanned{burst: i + 1, answer: a})
		}
		if i > 0 {
			continue
		}
		// The first burst's admissions, on the limiter's clock (all at one
		// moment, as the clock stood still).
		var firstIn, lastIn int64
		for _, a := range as {
			if a.allowed && (firstIn == 0 || a.at < firstIn) {
				firstIn = a.at
			}
			if a.allowed && a.at > lastIn {
				lastIn = a.at
			}
		}
		if third := lastIn + w + spanThirdAfter.Milliseconds(); lastIn > 0 && third-boundary > sends[1] && third-firstIn < quotaWindowMS {
			sends, sizes = append(sends, third-boundary), append(sizes, spanBurst)
		}
	}
	return all, sends, nil
}

// spanMeasure is what the boundary attack let through.
type spanMeasure struct {
	all     []spanned // timed relative to the boundary
	ats     []int64   // admitted, relative to the boundary, in order
	after   int       // admitted at or after the boundary
	byBurst []int     // admitted per burst (1-based)
	worst   int       // most admitted in any 2 s span
	worstAt int64     // the end of that span
	spanMS  int64     // from the first to the last admission
}

// inSpan counts admissions in (t − 2 s, t].
func (m spanMeasure) inSpan(t int64) int {
	lo, _ := slices.BinarySearch(m.ats, t-quotaWindowMS+1)
	hi, _ := slices.BinarySearch(m.ats, t+1)
	return hi - lo
}

func measureSpan(all []spanned, boundary int64, bursts int) spanMeasure {
	m := spanMeasure{all: all, byBurst: make([]int, bursts+1)}
	for i := range all {
		s := &all[i]
		s.at -= boundary
		if !s.allowed {
			continue
		}
		m.byBurst[s.burst]++
		m.ats = append(m.ats, s.at)
		if s.at >= 0 {
			m.after++
		}
	}
	slices.Sort(m.ats)
	for _, a := range m.ats {
		if n := m.inSpan(a); n > m.worst {
			m.worst, m.worstAt = n, a
		}
	}
	if len(m.ats) > 0 {
		m.spanMS = m.ats[len(m.ats)-1] - m.ats[0]
	}
	return m
}

// spanReasons explains, from the design, why the boundary attack got more
// than the quota through.
func spanReasons(d labs.Design, after int) []string {
	if d == nil {
		return nil
	}
	c := configOf(d)
	var why []string
	switch c.algorithm {
	case FixedWindow:
		why = append(why, "a fixed window starts counting from zero at each boundary, so a client can use its quota at the end of one window and again at the start of the next")
	case TokenBucket, GCRA:
		why = append(why, fmt.Sprintf("%s starts full (%d) and refills continuously at %d per %d ms, so in any 2 s it admits its capacity plus what refilled meanwhile, up to about %d",
			c.algorithm, c.capacity(), c.limit, c.window, c.capacity()+c.limit*quotaWindowMS/c.window))
	case SlidingWindow:
		if after > 0 {
			why = append(why, "the sliding window counter estimates the previous window's requests as spread evenly; when they all came late, it lets more through soon after the boundary")
		}
	}
	if c.limit > quota {
		why = append(why, fmt.Sprintf("the design's limit is %d, above the quota of %d", c.limit, quota))
	}
	if c.window < quotaWindowMS && c.algorithm != TokenBucket && c.algorithm != GCRA {
		why = append(why, fmt.Sprintf("the design's window is %d ms, shorter than the quota's 2 s", c.window))
	}
	if c.storage == StorageMemory && c.replicas > 1 {
		why = append(why, fmt.Sprintf("with storage=memory each of the %d replicas counts on its own", c.replicas))
	}
	return why
}

// spanChart draws the attack: admitted in the 2 s up to each moment, and
// refused so far, every 20 ms around the boundary.
func spanChart(all []spanned, inSpan func(int64) int) *labs.CheckChart {
	lo, hi := -spanLead.Milliseconds()-20, spanAfter.Milliseconds()+100
	for _, s := range all {
		lo, hi = min(lo, s.at-20), max(hi, s.at+20)
	}
	const step = 20
	lo, hi = lo/step*step, (hi+step-1)/step*step
	if n := (hi - lo) / step; n > 190 {
		hi = lo + 190*step // keep the chart short
	}
	c := &labs.CheckChart{Title: "Admitted in the last 2 s, around the boundary attack", YLabel: "requests", Limit: limitLine()}
	var span, refused []float64
	for x := lo; x <= hi; x += step {
		n := 0
		for _, s := range all {
			if !s.allowed && s.at <= x {
				n++
			}
		}
		c.X = append(c.X, float64(x))
		span = append(span, float64(inSpan(x)))
		refused = append(refused, float64(n))
	}
	c.Series = []labs.ChartSeries{{Name: "admitted in the last 2 s", Values: span}, {Name: "refused so far", Values: refused}}
	return c
}
