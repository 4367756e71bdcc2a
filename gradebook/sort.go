package gradebook

import (
	"sort"
	"strconv"
	"strings"
)

// Filter keeps the rows whose email contains q (any case) and, with only
// "late" or "missing", those with a late or a missing assignment.
func (b *Book) Filter(q, only string) {
	q = strings.ToLower(strings.TrimSpace(q))
	out := []Row{}
	for _, r := range b.Rows {
		if q != "" && !strings.Contains(strings.ToLower(r.Email), q) {
			continue
		}
		keep := only == ""
		for _, c := range r.Cells {
			if (only == "late" && c.LateCount > 0) || (only == "missing" && c.Score == nil) {
				keep = true
			}
		}
		if keep {
			out = append(out, r)
		}
	}
	b.Rows = out
}

// Sort orders the rows by key: "email", "lessons", "quiz", "streak",
// "total", or "a<assignment id>"; missing scores sort lowest. Ties keep
// email order.
func (b *Book) Sort(key string, desc bool) {
	col := -1
	if strings.HasPrefix(key, "a") {
		if id, err := strconv.ParseInt(key[1:], 10, 64); err == nil {
			for i, c := range b.Columns {
				if c.ID == id {
					col = i
				}
			}
		}
	}
	val := func(r Row) float64 {
		switch {
		case col >= 0:
			if s := r.Cells[col].Score; s != nil {
				return float64(*s)
			}
			return -1
		case key == "lessons":
			return float64(r.Lessons)
		case key == "quiz":
			return float64(r.QuizAverage)
		case key == "streak":
			return float64(r.Streak)
		case key == "total":
			return float64(r.Total)
		}
		return 0
	}
	sort.SliceStable(b.Rows, func(i, j int) bool {
		a, c := b.Rows[i], b.Rows[j]
		if col < 0 && (key == "" || key == "email") {
			if desc {
				return a.Email > c.Email
			}
			return a.Email < c.Email
		}
		if va, vc := val(a), val(c); va != vc {
			if desc {
				return va > vc
			}
			return va < vc
		}
		return a.Email < c.Email
	})
}
