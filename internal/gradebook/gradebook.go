// Package gradebook builds a class's gradebook: its learners against its
// assignments (best score, attempts, late), with progress columns, and
// writes it as CSV for spreadsheets and LMS gradebooks or as JSON.
package gradebook

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sdworkbook/workbook/internal/progress"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/lessons"
)

// Sources are where a gradebook's numbers come from.
type Sources struct {
	Store    *store.Store
	Progress *progress.Service
	Catalog  *lessons.Catalog
	// Exercise finds a lab exercise by id.
	Exercise func(id string) (labs.Exercise, bool)
}

// Column is one assignment.
type Column struct {
	store.Assignment `json:"-"`
	ID               int64      `json:"id"`
	Kind             string     `json:"kind"`
	Ref              string     `json:"ref"`
	Title            string     `json:"title"`
	Max              int        `json:"max_points"`
	DueAt            *time.Time `json:"due_at"`
	Href             string     `json:"-"` // where a learner does it
}

// Cell is one learner's standing on one assignment.
type Cell struct {
	// Score is the best score that counts (the class's override replaces
	// the grader's for its submission; other classes' overrides are not
	// this class's); nil when nothing counts.
	Score      *int      `json:"score"`
	Max        int       `json:"max_points"`
	Attempts   int       `json:"attempts"`
	Late       bool      `json:"late"` // the best attempt came after the due date
	LateCount  int       `json:"late_attempts"`
	Overridden bool      `json:"overridden"` // the best score is an instructor's
	Best       string    `json:"best_submission,omitempty"`
	BestAt     time.Time `json:"best_at,omitempty"`
}

// Row is one learner.
type Row struct {
	UserID      int64     `json:"user_id"`
	Email       string    `json:"email"`
	JoinedAt    time.Time `json:"joined_at"`
	Cells       []Cell    `json:"assignments"`
	Lessons     int       `json:"lessons_completed"`
	QuizAverage int       `json:"quiz_average"`
	Streak      int       `json:"review_streak"`
	Total       int       `json:"total"`
	TotalMax    int       `json:"total_max"`
}

// Book is a class's gradebook.
type Book struct {
	Class   store.Class `json:"-"`
	Columns []Column    `json:"assignments"`
	Rows    []Row       `json:"learners"`
	Lessons int         `json:"lessons_total"`
}

// Build computes a class's gradebook.
func Build(ctx context.Context, src Sources, class store.Class) (Book, error) {
	return build(ctx, src, class, 0)
}

// BuildFor computes one learner's row of a class's gradebook, for the
// learner's own view: the other learners are not read.
func BuildFor(ctx context.Context, src Sources, class store.Class, userID int64) (Book, error) {
	return build(ctx, src, class, userID)
}

func build(ctx context.Context, src Sources, class store.Class, only int64) (Book, error) {
	b := Book{Class: class, Lessons: len(src.Catalog.Lessons), Columns: []Column{}, Rows: []Row{}} // [] not null in JSON
	as, err := src.Store.Assignments(ctx, class.ID)
	if err != nil {
		return Book{}, err
	}
	var exIDs, slugs []string
	for _, a := range as {
		col := Column{Assignment: a, ID: a.ID, Kind: a.Kind, Ref: a.Ref, DueAt: a.DueAt, Title: a.Ref}
		switch a.Kind {
		case store.AssignExercise:
			if ex, ok := src.Exercise(a.Ref); ok {
				col.Title, col.Max, col.Href = ex.Title, ex.MaxScore(), "/labs/"+ex.Lab+"/exercises/"+ex.ID
			}
			exIDs = append(exIDs, a.Ref)
		case store.AssignQuiz:
			col.Max, col.Href = 100, "/lessons/"+a.Ref+"/quiz" // percent
			if l, ok := src.Catalog.Lesson(a.Ref); ok {
				col.Title = "Quiz: " + l.Title
			}
			slugs = append(slugs, a.Ref)
		}
		b.Columns = append(b.Columns, col)
	}
	members, err := src.Store.Members(ctx, class.ID)
	if err != nil {
		return Book{}, err
	}
	if only != 0 {
		var mine []store.Member
		for _, m := range members {
			if m.ID == only {
				mine = append(mine, m)
			}
		}
		members = mine
	}
	ids := make([]int64, len(members))
	for i, m := range members {
		ids[i] = m.ID
	}
	subs, err := src.Store.SubmissionsOf(ctx, ids, exIDs)
	if err != nil {
		return Book{}, err
	}
	subIDs := make([]string, len(subs))
	for i, s := range subs {
		subIDs[i] = s.ID
	}
	reviews, err := src.Store.Reviews(ctx, class.ID, subIDs)
	if err != nil {
		return Book{}, err
	}
	quizzes, err := src.Store.QuizAttemptsOf(ctx, ids, slugs)
	if err != nil {
		return Book{}, err
	}
	var sums map[int64]progress.Summary
	if src.Progress != nil {
		if sums, err = src.Progress.Summaries(ctx, ids); err != nil {
			return Book{}, err
		}
	}
	for _, m := range members {
		r := Row{UserID: m.ID, Email: m.Email, JoinedAt: m.JoinedAt, Cells: []Cell{}}
		for _, col := range b.Columns {
			cell := Cell{Max: col.Max}
			switch col.Kind {
			case store.AssignExercise:
				for _, s := range subs {
					if s.UserID != m.ID || s.Exercise != col.Ref || !s.Counts() {
						continue
					}
					cell.Attempts++
					late := col.Late(s.CreatedAt)
					if late {
						cell.LateCount++
					}
					score, over := Effective(s, reviews[s.ID])
					if score == nil {
						continue
					}
					if cell.Score == nil || *score > *cell.Score {
						v := *score
						cell.Score, cell.Late, cell.Overridden, cell.Best, cell.BestAt = &v, late, over, s.ID, s.CreatedAt
					}
				}
			case store.AssignQuiz:
				for _, q := range quizzes {
					if q.UserID != m.ID || q.LessonSlug != col.Ref || q.MaxScore == 0 {
						continue
					}
					cell.Attempts++
					late := col.Late(q.CreatedAt)
					if late {
						cell.LateCount++
					}
					pct := q.Score * 100 / q.MaxScore
					if cell.Score == nil || pct > *cell.Score {
						cell.Score, cell.Late, cell.BestAt = &pct, late, q.CreatedAt
					}
				}
			}
			if cell.Score != nil {
				r.Total += *cell.Score
			}
			r.TotalMax += cell.Max
			r.Cells = append(r.Cells, cell)
		}
		sum := sums[m.ID]
		r.Lessons, r.QuizAverage, r.Streak = sum.Completed, sum.QuizAverage, sum.Streak
		b.Rows = append(b.Rows, r)
	}
	return b, nil
}

// Effective is the score a submission counts for: an instructor's override
// when there is one, else the grader's.
func Effective(s store.Submission, r store.SubmissionReview) (score *int, overridden bool) {
	if r.OverrideScore != nil {
		return r.OverrideScore, true
	}
	return s.Score, false
}

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

// WriteCSV writes the gradebook as spreadsheets and LMS gradebooks import
// it: a header row, a "Points possible" row, then one row per learner keyed
// by email; an empty cell is no score.
func (b Book) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := []string{"Email"}
	points := []string{"Points possible"}
	for _, c := range b.Columns {
		head = append(head, fmt.Sprintf("%s (%s)", c.Title, c.Ref))
		points = append(points, strconv.Itoa(c.Max))
	}
	head = append(head, "Total", "Lessons completed", "Quiz average (%)", "Review streak (days)")
	points = append(points, strconv.Itoa(b.totalMax()), strconv.Itoa(b.Lessons), "100", "")
	if err := cw.Write(head); err != nil {
		return err
	}
	if err := cw.Write(points); err != nil {
		return err
	}
	for _, r := range b.Rows {
		line := []string{safeCell(r.Email)}
		for _, c := range r.Cells {
			v := ""
			if c.Score != nil {
				v = strconv.Itoa(*c.Score)
			}
			line = append(line, v)
		}
		line = append(line, strconv.Itoa(r.Total), strconv.Itoa(r.Lessons), strconv.Itoa(r.QuizAverage), strconv.Itoa(r.Streak))
		if err := cw.Write(line); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func (b Book) totalMax() int {
	n := 0
	for _, c := range b.Columns {
		n += c.Max
	}
	return n
}

// safeCell keeps a spreadsheet from reading a value as a formula.
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
