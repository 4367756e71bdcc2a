package lessons

import (
	"sort"
	"strings"
	"unicode"
)

// Hit is one search result.
type Hit struct {
	Kind    string // "lesson" or "question"
	Slug    string
	Title   string
	Topic   string
	Snippet string
	score   int
}

type searchDoc struct {
	kind, slug, title, topic string
	titleWords               map[string]int
	bodyWords                map[string]int
	text                     string
}

type searchIndex struct{ docs []searchDoc }

func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

func counts(s string) map[string]int {
	m := map[string]int{}
	for _, w := range words(s) {
		m[w]++
	}
	return m
}

func buildIndex(c *Catalog) *searchIndex {
	idx := &searchIndex{}
	for _, l := range c.Lessons {
		var heads strings.Builder
		for _, h := range l.TOC {
			heads.WriteString(h.Text + " ")
		}
		idx.docs = append(idx.docs, searchDoc{kind: "lesson", slug: l.Slug, title: l.Title, topic: l.Topic,
			titleWords: counts(l.Title + " " + heads.String() + " " + l.Summary), bodyWords: counts(l.text), text: l.text})
	}
	for _, q := range c.Questions {
		idx.docs = append(idx.docs, searchDoc{kind: "question", slug: q.Slug, title: q.Title, topic: q.Topic,
			titleWords: counts(q.Title), bodyWords: counts(q.text), text: q.text})
	}
	return idx
}

// maxQueryWords bounds the work one search can cause.
const maxQueryWords = 8

// Search finds lessons and questions matching every word of query (the last
// word may be a prefix, for search-as-you-type), best first.
func (c *Catalog) Search(query string, limit int) []Hit {
	q := words(query)
	if len(q) > maxQueryWords {
		q = q[:maxQueryWords]
	}
	if len(q) == 0 {
		return nil
	}
	var hits []Hit
	for _, d := range c.index.docs {
		score := 0
		for i, w := range q {
			prefix := i == len(q)-1 && len(w) >= 2
			s := 8*match(d.titleWords, w, prefix) + min(match(d.bodyWords, w, prefix), 20)
			if s == 0 {
				score = 0
				break
			}
			score += s
		}
		if score == 0 {
			continue
		}
		if d.kind == "lesson" {
			score += 2
		}
		hits = append(hits, Hit{Kind: d.kind, Slug: d.slug, Title: d.title, Topic: d.topic, Snippet: snippet(d.text, q), score: score})
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].score > hits[j].score })
	if len(hits) > limit {
		hits = hits[:limit]
	}
	return hits
}

func match(m map[string]int, w string, prefix bool) int {
	n := m[w]
	if prefix {
		for k, v := range m {
			if k != w && strings.HasPrefix(k, w) {
				n += v
			}
		}
	}
	return n
}

func snippet(text string, q []string) string {
	lower := strings.ToLower(text)
	at := -1
	for _, w := range q {
		if i := strings.Index(lower, w); i >= 0 && (at < 0 || i < at) {
			at = i
		}
	}
	if at < 0 {
		at = 0
	}
	start := max(0, at-70)
	end := min(len(text), at+130)
	for start > 0 && !utf8RuneStart(text[start]) {
		start--
	}
	for end < len(text) && !utf8RuneStart(text[end]) {
		end++
	}
	s := strings.Join(strings.Fields(text[start:end]), " ")
	if start > 0 {
		s = "…" + s
	}
	if end < len(text) {
		s += "…"
	}
	return s
}
