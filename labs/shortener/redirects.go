package shortener

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/sdworkbook/workbook/labs"
)

// redirectLinks are the links checkRedirects makes: URLs of awkward shapes,
// and two aliases that differ only in case.
var redirectLinks = []map[string]any{
	{"url": "https://shop.example.org/p?id=42&ref=a%20b#reviews"},
	{"url": "http://legacy.example.net:8080/path/to/page.html"},
	{"url": "https://docs.example.org/guide/" + strings.Repeat("chapter-", 40) + "end?q=1&q=2"},
	{"url": "https://example.org/"},
	{"url": "https://api.example.org/v1/search?q=caf%C3%A9&sort=-date&page=2"},
	{"url": "https://Mixed.Case.example.org/Path/To/Page"},
	{"url": "https://shop.example.org/spring", "alias": "Spring-Sale"},
	{"url": "https://shop.example.org/not-spring", "alias": "spring-SALE"},
}

// made is a link a check created.
type made struct{ code, url string }

// checkRedirects creates links of awkward shapes through the route and
// follows each three times (database, then the caches).
func checkRedirects(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, _, err := start(ctx, t)
	if err != nil {
		return labs.Broken(err)
	}
	var problems []string
	// An alias asked for before it exists is unknown, and must not stay
	// unknown once created (a cached 404 would).
	early, err := follow(ctx, tg, "Spring-Sale", "")
	if err != nil {
		return outcomeOf(err)
	}
	if early.Status != http.StatusNotFound {
		problems = append(problems, fmt.Sprintf("GET r/Spring-Sale answered %d before the alias existed; want 404", early.Status))
	}
	all, err := createLinks(ctx, tg, &problems)
	if err != nil {
		return outcomeOf(err)
	}
	statuses, err := followThrice(ctx, tg, all, &problems)
	if err != nil {
		return outcomeOf(err)
	}
	unknown, err := follow(ctx, tg, "no-such-link-42", "")
	if err != nil {
		return outcomeOf(err)
	}
	if unknown.Status != http.StatusNotFound {
		problems = append(problems, fmt.Sprintf("GET r/no-such-link-42 (a code nobody created) answered %d; want 404", unknown.Status))
	}
	tiers, err := tierSentence(ctx, tg)
	if err != nil {
		return outcomeOf(err)
	}
	return redirectsVerdict(all, statuses, problems, tiers)
}

// createLinks creates redirectLinks with POST shorten.
func createLinks(ctx context.Context, tg labs.Target, problems *[]string) ([]made, error) {
	var all []made
	for _, body := range redirectLinks {
		u := body["url"].(string)
		c, rep, err := create(ctx, tg, body)
		if err != nil {
			return nil, err
		}
		if rep.Status != http.StatusCreated && rep.Status != http.StatusOK {
			return nil, routeErr(fmt.Sprintf("POST shorten for %s", clip(u)), rep)
		}
		if c.Code == "" || c.Path != "r/"+c.Code || !strings.HasSuffix(c.ShortURL, "/r/"+c.Code) {
			*problems = append(*problems, fmt.Sprintf("POST shorten for %s answered code %q, path %q, short_url %q", clip(u), c.Code, c.Path, clip(c.ShortURL)))
		}
		all = append(all, made{c.Code, u})
	}
	return all, nil
}

// followThrice follows every link three times and counts the statuses.
func followThrice(ctx context.Context, tg labs.Target, all []made, problems *[]string) (map[int]int, error) {
	statuses := map[int]int{}
	for round := range 3 {
		for _, m := range all {
			rep, err := follow(ctx, tg, m.code, "")
			if err != nil {
				return nil, err
			}
			statuses[rep.Status]++
			loc := rep.Header.Get("Location")
			switch {
			case !isRedirect(rep.Status):
				*problems = append(*problems, fmt.Sprintf("GET r/%s (read %d) answered %d, not a redirect", m.code, round+1, rep.Status))
			case loc != m.url:
				*problems = append(*problems, fmt.Sprintf("GET r/%s (read %d) redirected to %q, but the link was made for %q", m.code, round+1, clip(loc), clip(m.url)))
			}
		}
	}
	return statuses, nil
}

// tierSentence says which tiers served the lookups so far, from GET
// stats; "" when the target has no stats.
func tierSentence(ctx context.Context, tg labs.Target) (string, error) {
	st, ok, err := stats(ctx, tg)
	if err != nil || !ok {
		return "", err
	}
	return fmt.Sprintf("served by the database %d times, Redis %d, process memory %d (cache %s)",
		st.Totals.DBHits, st.Totals.RedisHits, st.Totals.LocalHits, st.Cache), nil
}

func redirectsVerdict(all []made, statuses map[int]int, problems []string, tiers string) labs.Outcome {
	if len(problems) > 0 {
		if tiers != "" {
			tiers = fmt.Sprintf(" (Lookups were %s.)", tiers)
		}
		return labs.Fail("%d of %d redirects of %d links went wrong: %s.%s",
			len(problems), 3*len(all), len(all), listFirst(problems), tiers)
	}
	var sts []string
	for _, s := range []int{301, 302, 307, 308} {
		if n := statuses[s]; n > 0 {
			sts = append(sts, fmt.Sprintf("%d × %d", n, s))
		}
	}
	if tiers != "" {
		tiers = ", " + tiers
	}
	return labs.Pass("%d links (6 URLs with ports, queries, escapes and fragments, and 2 aliases differing only in case) each redirected 3 times to exactly "+
		"their URL (%s)%s. An unknown code answered 404, and the alias asked for before it existed answered 404, then redirected once created.",
		len(all), strings.Join(sts, ", "), tiers)
}
