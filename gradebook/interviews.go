package gradebook

import (
	"context"
	"strconv"

	"github.com/sdworkbook/workbook/internal/store"
)

// interviewColumn fills a mock interview assignment's column: scored in
// percent, done at the problem's page.
func (src Sources) interviewColumn(col *Column) {
	col.Max, col.Href = 100, "/interviews/"+col.Ref
	if src.Interview != nil {
		if title, ok := src.Interview(col.Ref); ok {
			col.Title = "Mock interview: " + title
		}
	}
}

// interviewEvidence reads the members' sessions on the assigned problems
// and this class's reviews of them.
func (src Sources) interviewEvidence(ctx context.Context, classID int64, ids []int64, cols []Column, ev *evidence) error {
	var slugs []string
	for _, col := range cols {
		if col.Kind == store.AssignInterview {
			slugs = append(slugs, col.Ref)
		}
	}
	var err error
	if ev.interviews, err = src.Store.InterviewSessionsOf(ctx, ids, slugs); err != nil {
		return err
	}
	sessionIDs := make([]int64, len(ev.interviews))
	for i, s := range ev.interviews {
		sessionIDs[i] = s.ID
	}
	ev.interviewReviews, err = src.Store.InterviewReviews(ctx, classID, sessionIDs)
	return err
}

// interviewCell is a learner's best session on an assigned problem: the
// class's instructor's score where they reviewed it, else the learner's
// own rubric score. It links the session's review page.
func interviewCell(userID int64, col Column, ev evidence) Cell {
	cell := Cell{Max: col.Max}
	for _, s := range ev.interviews {
		if s.UserID != userID || s.ProblemSlug != col.Ref {
			continue
		}
		cell.Attempts++
		late := col.Late(s.StartedAt)
		if late {
			cell.LateCount++
		}
		score, ok := s.SelfPercent()
		rv, reviewed := ev.interviewReviews[s.ID]
		if reviewed {
			score, ok = rv.Score, true
		}
		if !ok {
			continue
		}
		if cell.Score == nil || score > *cell.Score {
			v := score
			cell.Score, cell.Late, cell.Overridden, cell.BestAt = &v, late, reviewed, s.StartedAt
			cell.Link = "/classes/" + strconv.FormatInt(col.ClassID, 10) + "/interviews/" + strconv.FormatInt(s.ID, 10)
		}
	}
	return cell
}
