package shortener

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"slices"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// Step 2: a link goes viral. The traffic comes on the suite's clock, one
// request after another, so the near cache's least recently used order,
// the cache TTLs and the click pushes are the same on every grading.
const (
	viralSteps    = 300                   // steps of the clock: 3 s
	viralStep     = 10 * time.Millisecond // per step
	viralPerStep  = 20                    // redirects per step: 2,000 a second
	viralShare    = 3                     // one redirect in 3 is the viral link
	viralZipfS    = 1.1                   // the rest: Zipf over the 1,000 demo links
	viralSeed     = 18
	nearBudget    = 500  // codes the near cache may hold
	minViralLocal = 0.99 // of the viral link's redirects, from process memory
	minAllLocal   = 0.85 // of all redirects, from process memory

	clickSteps     = 300 // 6,000 clicks of the viral link over 3 s
	maxLostClicks  = 120 // 2% of them
	maxClickWrites = 50  // pushes of clicks to Redis per second
)

// viralTraffic is what the near-cache traffic saw.
type viralTraffic struct {
	viral, viralLocal int
	all, allLocal     int
	peak              int64 // the near cache's most codes at once
	design            labs.Design
}

// runViral creates the viral link and sends the traffic: per step of the
// clock, 20 redirects, every 3rd to the viral link and the others to the
// demo links by a Zipf draw with a fixed seed.
func runViral(ctx context.Context, t *labs.Trial) (*viralTraffic, error) {
	tg, tl, err := start(ctx, t)
	if err != nil {
		return nil, err
	}
	c, rep, err := create(ctx, tg, map[string]any{"url": "https://viral.example.org/cat-video"})
	if err != nil {
		return nil, err
	}
	if rep.Status != http.StatusCreated {
		return nil, routeErr("POST shorten for the viral link", rep)
	}
	tail, err := demoCodes(ctx, tg, c.Code)
	if err != nil {
		return nil, err
	}
	z := rand.NewZipf(rand.New(rand.NewSource(viralSeed)), viralZipfS, 1, uint64(len(tail)-1))
	v := &viralTraffic{design: tg.Design()}
	t0 := tl.Now()
	for step := range viralSteps {
		if err := tl.AdvanceTo(ctx, t0.Add(time.Duration(step+1)*viralStep)); err != nil {
			return nil, err
		}
		for i := range viralPerStep {
			code := c.Code
			if i%viralShare != 0 {
				code = tail[z.Uint64()]
			}
			rep, err := follow(ctx, tg, code, "")
			if err != nil {
				return nil, err
			}
			if !isRedirect(rep.Status) {
				return nil, failed("GET r/%s answered %d during the traffic; every link should redirect.", code, rep.Status)
			}
			local := rep.Header.Get("X-Served-By") == tierLocal
			v.all++
			if local {
				v.allLocal++
			}
			if code == c.Code {
				v.viral++
				if local {
					v.viralLocal++
				}
			}
		}
	}
	st, _, err := stats(ctx, tg)
	if err != nil {
		return nil, err
	}
	v.peak = st.LocalPeak
	return v, nil
}

// demoCodes are the codes of every stored link but the viral one, in code
// order (the order GET links pages them in).
func demoCodes(ctx context.Context, tg labs.Target, viral string) ([]string, error) {
	stored, ok, err := storedLinks(ctx, tg)
	if err != nil {
		return nil, err
	}
	if !ok || len(stored) < 2 {
		return nil, failed("GET links listed %d links; the viral traffic needs the lab's demo links.", len(stored))
	}
	codes := make([]string, 0, len(stored))
	for code := range stored {
		if code != viral {
			codes = append(codes, code)
		}
	}
	slices.Sort(codes)
	return codes, nil
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// nearDesign words the near-cache design of d.
func nearDesign(d labs.Design) string {
	if d == nil {
		return ""
	}
	if d.String("cache") != CacheLocal {
		return fmt.Sprintf(" With cache %s there is no near cache: every redirect asks Redis (or the database) over the network.", d.String("cache"))
	}
	return fmt.Sprintf(" The near cache holds up to local_capacity %d codes, each for cache_ttl_ms %d.", d.Int("local_capacity"), d.Int("cache_ttl_ms"))
}

// checkViralMemory: the viral link's redirects skip the network.
func checkViralMemory(ctx context.Context, t *labs.Trial) labs.Outcome {
	v, err := runViral(ctx, t)
	if err != nil {
		return outcomeOf(err)
	}
	share := float64(v.viralLocal) / float64(max(1, v.viral))
	msg := fmt.Sprintf("%s of the viral link's %s redirects (%.1f%%) were answered from process memory; at least %.0f%% must be, "+
		"as each of the others waited for a network round trip and sets the link's p99.", labs.Thousands(v.viralLocal), labs.Thousands(v.viral),
		pct(v.viralLocal, v.viral), 100*minViralLocal)
	if share >= minViralLocal {
		return labs.Pass("%s", msg)
	}
	d := v.design
	switch {
	case d == nil || d.String("cache") != CacheLocal:
		return labs.Fail("%s%s", msg, nearDesign(d))
	case time.Duration(d.Int("cache_ttl_ms"))*time.Millisecond < viralSteps*viralStep:
		msg += fmt.Sprintf(" With cache_ttl_ms %d its cached copy expires every %d ms of the clock, and the next redirect goes to Redis again.",
			d.Int("cache_ttl_ms"), d.Int("cache_ttl_ms"))
	default:
		msg += fmt.Sprintf(" With local_capacity %d each of the 64 stripes holds %d codes, and the other links read between two of its redirects evict it.",
			d.Int("local_capacity"), max(1, d.Int("local_capacity")/localStripes))
	}
	return labs.Fail("%s", msg)
}

// checkNearBudget: the near cache stays within its memory budget.
func checkNearBudget(ctx context.Context, t *labs.Trial) labs.Outcome {
	v, err := runViral(ctx, t)
	if err != nil {
		return outcomeOf(err)
	}
	msg := fmt.Sprintf("Through %s redirects over the viral link and 1,000 others, the near cache held at most %d codes at once; the budget is %d.",
		labs.Thousands(v.all), v.peak, nearBudget)
	if v.peak <= nearBudget {
		return labs.Pass("%s", msg)
	}
	if v.design != nil {
		msg += fmt.Sprintf(" local_capacity %d lets it keep every code it reads.", v.design.Int("local_capacity"))
	}
	return labs.Fail("%s", msg)
}

// checkRedisShare: the near cache answers most redirects, so Redis takes
// few of them.
func checkRedisShare(ctx context.Context, t *labs.Trial) labs.Outcome {
	v, err := runViral(ctx, t)
	if err != nil {
		return outcomeOf(err)
	}
	msg := fmt.Sprintf("%s of all %s redirects (%.1f%%) were answered from process memory; at least %.0f%% must be, so Redis and the database take at most %.0f%%.",
		labs.Thousands(v.allLocal), labs.Thousands(v.all), pct(v.allLocal, v.all), 100*minAllLocal, 100-100*minAllLocal)
	if float64(v.allLocal) >= minAllLocal*float64(v.all) {
		return labs.Pass("%s", msg)
	}
	if v.design != nil && v.design.String("cache") == CacheLocal {
		msg += fmt.Sprintf(" local_capacity %d keeps too few of the popular links (%d per stripe of 64), or cache_ttl_ms %d drops them too soon.",
			v.design.Int("local_capacity"), max(1, v.design.Int("local_capacity")/localStripes), v.design.Int("cache_ttl_ms"))
		return labs.Fail("%s", msg)
	}
	return labs.Fail("%s%s", msg, nearDesign(v.design))
}
